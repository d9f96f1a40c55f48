"""SV2TTS models and their audio/text front-ends. Never imports Qt."""
