"""The only code that talks to nio: login, sync, decryption, sending, rooms, media, keys."""
