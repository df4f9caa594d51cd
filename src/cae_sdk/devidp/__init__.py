"""cae_sdk.devidp"""
