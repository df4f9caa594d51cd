"""pytest plugin entry point for the dev identity provider (fixtures come with devidp)."""
