{
  "targets": [
    {
      "target_name": "procvision_shm",
      "sources": ["native/shm/shm.c"],
      "cflags": ["-std=c11"],
      "libraries": ["-lrt"]
    }
  ]
}
