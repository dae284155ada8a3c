"""Pure math and skeletal data (numpy + torch, no Lightning)."""
