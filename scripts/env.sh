# Environment for running gridwatch offline; sourced by demo.sh and test.sh.
# ultralytics must never reach the network: weights by explicit path, no auto-install.
export YOLO_OFFLINE=1
export YOLO_AUTOINSTALL=False
export YOLO_CONFIG_DIR=${YOLO_CONFIG_DIR:-$PWD/data/yolo-config}
mkdir -p "$YOLO_CONFIG_DIR"
# Weight files are never committed: models/weights/ (git-ignored) or the shared folder.
if [[ -z ${GRIDWATCH_WEIGHTS_DIR:-} ]]; then
  if compgen -G "models/weights/*.pt" >/dev/null; then
    export GRIDWATCH_WEIGHTS_DIR=$PWD/models/weights
  elif [[ -d ../shared/models ]]; then
    GRIDWATCH_WEIGHTS_DIR=$(cd ../shared/models && pwd)
    export GRIDWATCH_WEIGHTS_DIR
  fi
fi
