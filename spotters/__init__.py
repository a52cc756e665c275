"""Stage 2: temporal spotters (conv + BiLSTM reference, TCN, transformer), their losses, training,
inference, decoders and challenge outputs.  Importing this package is cheap (no torch)."""
