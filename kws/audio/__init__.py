"""Audio in: files (soundfile), the ring buffer, and microphone capture (sounddevice)."""
