"""The read side for analysts: mention filters and full-text search, statistics, exports, complaint
lists, spread views, daily and weekly reports."""
