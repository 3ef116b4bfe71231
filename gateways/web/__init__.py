"""The web gallery: server-rendered pages for people, over the same media library every protocol serves."""
