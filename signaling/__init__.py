"""Watercooler's realtime server: sprint subscriptions, presence, relay, WebRTC signaling."""
