#!/usr/bin/env bash
# Regenerates the Go code for sdk/proto/parley/v1/*.proto and the Python
# code of the Python SDK (sdk/python/parley_plugin/_proto) from the same files.
# Needs protoc (Debian protobuf-compiler 3.21.12) and grpc_python_plugin
# (Debian protobuf-compiler-grpc 1.51); installs the pinned Go plugins into
# ./bin/tools when missing. Run from anywhere; `make proto` calls it.
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
grpc_python="$(command -v grpc_python_plugin)" || { echo "grpc_python_plugin not found: apt-get install protobuf-compiler-grpc" >&2; exit 1; }
install_tool protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "${PROTOC_GEN_GO_VERSION}"
install_tool protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "${PROTOC_GEN_GO_GRPC_VERSION}"

cd "${root}/sdk/proto"
rm -f parley/v1/*.pb.go
PATH="${tools}:${PATH}" protoc \
  --proto_path=. \
  --go_out=. --go_opt=paths=source_relative \
  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
  parley/v1/*.proto

# Python: protoc writes absolute imports ("from parley.v1 import plugin_pb2");
# they are rewritten to the package the SDK ships them in.
pyout="${root}/sdk/python/parley_plugin/_proto"
find "${pyout}" -name '*_pb2*.py*' -delete
protoc \
  --proto_path=. \
  --python_out="${pyout}" --pyi_out="${pyout}" \
  --grpc_python_out="${pyout}" --plugin=protoc-gen-grpc_python="${grpc_python}" \
  parley/v1/*.proto
rm -f "${pyout}/parley/v1/plugin_pb2_grpc.py" # plugin.proto declares no service
protoc \
  --proto_path="${root}/sdk/python/proto" \
  --python_out="${pyout}" --pyi_out="${pyout}" \
  parley_plugin/wire.proto
mv "${pyout}/parley_plugin/wire_pb2.py" "${pyout}/parley_plugin/wire_pb2.pyi" "${pyout}/"
rmdir "${pyout}/parley_plugin"
sed -i -e 's/^from parley\.v1 import /from parley_plugin._proto.parley.v1 import /' \
  "${pyout}"/parley/v1/*.py "${pyout}"/parley/v1/*.pyi
