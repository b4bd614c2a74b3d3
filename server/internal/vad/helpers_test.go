package vad

import "os"

// readFile reads a generated test file.
func readFile(path string) ([]byte, error) { return os.ReadFile(path) }
