"""The embedded platform: a real Kafka-protocol broker process, run on loopback."""
