#!/usr/bin/env bash
# Regenerates the Go code for sdk/proto/parley/v1/*.proto.
# Needs protoc (Debian protobuf-compiler 3.21.12); installs the pinned Go
# plugins into ./bin/tools when missing. Run from anywhere; `make proto` calls it.
set -euo pipefail

readonly PROTOC_GEN_GO_VERSION=v1.36.12
readonly PROTOC_GEN_GO_GRPC_VERSION=v1.6.2

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="${root}/bin/tools"
mkdir -p "${tools}"

install_tool() { # name package version
  local name="$1" pkg="$2" version="$3" stamp="${tools}/.$1.version"
  if [[ ! -x "${tools}/${name}" || "$(cat "${stamp}" 2>/dev/null || true)" != "${version}" ]]; then
    GOBIN="${tools}" go install "${pkg}@${version}"
    echo "${version}" >"${stamp}"
  fi
}

command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
install_tool protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "${PROTOC_GEN_GO_VERSION}"
install_tool protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "${PROTOC_GEN_GO_GRPC_VERSION}"

cd "${root}/sdk/proto"
rm -f parley/v1/*.pb.go
PATH="${tools}:${PATH}" protoc \
  --proto_path=. \
  --go_out=. --go_opt=paths=source_relative \
  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
  parley/v1/*.proto
