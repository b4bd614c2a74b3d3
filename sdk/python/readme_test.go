package python_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadmeHeadings: the Python SDK's README has the Go SDK README's
// top-level headings, in the same order.
func TestReadmeHeadings(t *testing.T) {
	headings := regexp.MustCompile(`(?m)^## .*$`)
	goReadme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	pyReadme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	want := headings.FindAllString(string(goReadme), -1)
	require.NotEmpty(t, want)
	assert.Equal(t, want, headings.FindAllString(string(pyReadme), -1))
}
