"""Where messages go: files on disk, an SMTP server, or an email provider's API."""
