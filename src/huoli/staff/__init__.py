"""Staff accounts: people who sign in to the console (password, optional TOTP), a role per app, sessions."""
