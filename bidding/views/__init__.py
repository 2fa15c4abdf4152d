"""HTML views: thin — parse, call one service, render or redirect."""
