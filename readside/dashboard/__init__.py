"""The analysts' dashboard: a JSON API over the audit store and one static page."""
