"""cae_sdk.client"""
