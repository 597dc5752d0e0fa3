{
  "targets": [
    {
      "target_name": "engine",
      "sources": ["engine.c"],
      "cflags": ["-O2", "-Wall", "-Wno-deprecated-declarations"],
      "defines": ["NAPI_VERSION=8"],
      "ldflags": ["-Wl,-z,now"]
    }
  ]
}
