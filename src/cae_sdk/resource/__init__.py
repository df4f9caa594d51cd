"""cae_sdk.resource"""
