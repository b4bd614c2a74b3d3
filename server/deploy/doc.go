// Package deploy checks the deployment recipes in configs/deploy: the
// Helm chart is rendered with Helm's own Go library (the engine behind
// `helm template`) with default and full values, every object is decoded
// strictly into the Kubernetes API types, and the rendered parley.yaml is
// loaded and validated with the environment the Deployment gives the
// container. Helm and the Kubernetes types are test-only dependencies:
// nothing shipped links them. It has no non-test code.
package deploy
