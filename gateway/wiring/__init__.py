"""The app's wiring: settings, logs, and what is built at startup and closed at shutdown."""
