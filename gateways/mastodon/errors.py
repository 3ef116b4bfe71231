"""Mastodon's error texts and the JSON shape they travel in."""

from __future__ import annotations

from aiohttp import web

TOKEN_INVALID = "The access token is invalid"
OUT_OF_SCOPE = "This action is outside the authorized scopes"
NOT_FOUND = "Record not found"
PROCESSING_FAILED = "Error processing thumbnail for uploaded media"
UNVERIFIED_TYPE = "File type of uploaded media could not be verified"
INVALID_TYPE = "Validation failed: File content type is invalid, File is invalid"
THUMBNAIL_NOT_BLANK = "Validation failed: Thumbnail must be blank"
INVALID_THUMBNAIL = "Validation failed: Thumbnail content type is invalid, Thumbnail is invalid"
MISSING_FILE = "param is missing or the value is empty: file"
BAD_FOCUS = "Validation failed: Focus must be two numbers between -1.0 and 1.0, as \"x,y\""
IN_USE = "Media attachment is currently used by a status"
UNAVAILABLE = "The media service is temporarily unavailable, try again in a moment"


def too_large(limit: int) -> str:
    return f"Validation failed: File must be less than {limit // (1024 * 1024)} MB"


def thumbnail_too_large(limit: int) -> str:
    return f"Validation failed: Thumbnail must be less than {limit // (1024 * 1024)} MB"


def too_many_pixels(width: int, height: int, media: str = "image") -> str:
    return f"{width}x{height} {'videos' if media == 'video' else 'images'} are not supported"


def too_many_frames(rate: float) -> str:
    return f"{rate:g}fps videos are not supported"


NO_VIDEO_STREAM = "Video has no video stream"


def description_too_long(limit: int) -> str:
    return f"Validation failed: Description is too long (maximum is {limit} characters)"


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


NOT_PERMITTED = "This action is not allowed"
SELF_FOLLOW = "Following your own account is not allowed"
