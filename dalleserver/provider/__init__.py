"""OpenAI (or compatible) prompt enhancement and image generation, behind a breaker and retry."""
