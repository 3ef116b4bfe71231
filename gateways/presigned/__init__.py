"""Presigned uploads: an app asks for an upload URL, then PUTs the bytes to it without a token."""
