// procvision_shm: maps POSIX shared-memory segments into external ArrayBuffers so the runner writes frames at
// memcpy speed. Deliberately tiny (npm mmap packages fail to build on Node 20 or add their own header):
//   open(name, size, create) -> ArrayBuffer   unmap(ab) -> boolean   unlink(name) -> boolean
#define _POSIX_C_SOURCE 200809L  // shm_open, ftruncate, fstat under -std=c11
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// Owned by the ArrayBuffer finalizer, which always frees it; `mapped` tells it whether unmap() already ran.
typedef struct {
  void* addr;
  size_t size;
  bool mapped;
} mapping_t;

#define CALL(call)                      \
  do {                                  \
    if ((call) != napi_ok) return NULL; \
  } while (0)

static napi_value throw_errno(napi_env env, const char* what, const char* name, int err) {
  char msg[320];
  snprintf(msg, sizeof msg, "%s(%s): %s", what, name, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

// Names travel bare ([A-Za-z0-9._-]+, see PROTOCOL.md); shm_open wants exactly one leading slash.
static bool get_shm_name(napi_env env, napi_value value, char out[256]) {
  size_t len = 0;
  out[0] = '/';
  if (napi_get_value_string_utf8(env, value, out + 1, 255, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "segment name must be a string");
    return false;
  }
  if (len == 0 || len >= 254 || strchr(out + 1, '/') != NULL) {
    napi_throw_type_error(env, NULL, "segment name must be 1-253 characters without '/'");
    return false;
  }
  return true;
}

static void finalize_mapping(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  mapping_t* m = hint;
  if (m->mapped) munmap(m->addr, m->size);
  free(m);
}

static napi_value open_segment(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[256];
  int64_t size = 0;
  bool create = false;
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "open(name, size, create) takes 3 arguments");
    return NULL;
  }
  if (!get_shm_name(env, argv[0], name)) return NULL;
  if (napi_get_value_int64(env, argv[1], &size) != napi_ok || size <= 0) {
    napi_throw_range_error(env, NULL, "size must be a positive integer");
    return NULL;
  }
  if (napi_get_value_bool(env, argv[2], &create) != napi_ok) {
    napi_throw_type_error(env, NULL, "create must be a boolean");
    return NULL;
  }

  int fd = shm_open(name, O_RDWR | (create ? O_CREAT : 0), 0600);
  if (fd < 0) return throw_errno(env, "shm_open", name, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "fstat", name, err);
  }
  // Touching a mapping beyond end of file raises SIGBUS, so the file must be at least `size` long.
  if (st.st_size < size) {
    if (!create) {
      close(fd);
      return throw_errno(env, "open (segment smaller than requested size)", name, EINVAL);
    }
    if (ftruncate(fd, (off_t)size) != 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, "ftruncate", name, err);
    }
  }
  void* addr = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int map_err = errno;
  close(fd);  // the mapping keeps the segment alive on its own
  if (addr == MAP_FAILED) return throw_errno(env, "mmap", name, map_err);

  mapping_t* m = malloc(sizeof *m);
  if (m == NULL) {
    munmap(addr, (size_t)size);
    return throw_errno(env, "malloc", name, ENOMEM);
  }
  *m = (mapping_t){.addr = addr, .size = (size_t)size, .mapped = true};
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, (size_t)size, finalize_mapping, m, &ab) != napi_ok) {
    munmap(addr, (size_t)size);
    free(m);
    return NULL;
  }
  // A wrap (no finalizer of its own) lets unmap() find the bookkeeping from the ArrayBuffer; the ArrayBuffer's
  // finalizer stays the single owner of `m`.
  CALL(napi_wrap(env, ab, m, NULL, NULL, NULL));
  return ab;
}

// Unmaps now instead of at GC and detaches the ArrayBuffer, so every JS view over the mapping drops to length 0.
// Returns false when the ArrayBuffer was already unmapped.
static napi_value unmap_segment(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value ab;
  napi_value result;
  CALL(napi_get_cb_info(env, info, &argc, &ab, NULL, NULL));
  bool is_ab = false;
  if (argc < 1 || napi_is_arraybuffer(env, ab, &is_ab) != napi_ok || !is_ab) {
    napi_throw_type_error(env, NULL, "unmap expects an ArrayBuffer returned by open()");
    return NULL;
  }
  bool detached = false;
  CALL(napi_is_detached_arraybuffer(env, ab, &detached));
  void* data = NULL;
  // Removing the wrap first means a second unmap() can never reach `m`, which the finalizer may free by then.
  if (detached || napi_remove_wrap(env, ab, &data) != napi_ok || data == NULL) {
    if (!detached) {
      napi_throw_type_error(env, NULL, "unmap expects an ArrayBuffer returned by open()");
      return NULL;
    }
    CALL(napi_get_boolean(env, false, &result));
    return result;
  }
  mapping_t* m = data;
  void* addr = m->addr;
  size_t size = m->size;
  // From here the finalizer only frees `m`; the munmap is ours. Detach before munmap so that a failed detach
  // never leaves a live ArrayBuffer over unmapped pages.
  m->mapped = false;
  if (napi_detach_arraybuffer(env, ab) != napi_ok) {
    // Still attached, so the finalizer has not run and `m` is valid: put everything back.
    m->mapped = true;
    napi_wrap(env, ab, m, NULL, NULL, NULL);
    napi_throw_error(env, NULL, "unmap: could not detach the ArrayBuffer; mapping left in place");
    return NULL;
  }
  // Detaching may have released the backing store and run the finalizer (freeing `m`): use the copies only.
  munmap(addr, size);
  CALL(napi_get_boolean(env, true, &result));
  return result;
}

// Returns false when the segment did not exist; other failures throw.
static napi_value unlink_segment(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg;
  napi_value result;
  CALL(napi_get_cb_info(env, info, &argc, &arg, NULL, NULL));
  char name[256];
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "unlink(name) takes 1 argument");
    return NULL;
  }
  if (!get_shm_name(env, arg, name)) return NULL;
  if (shm_unlink(name) != 0) {
    if (errno != ENOENT) return throw_errno(env, "shm_unlink", name, errno);
    CALL(napi_get_boolean(env, false, &result));
    return result;
  }
  CALL(napi_get_boolean(env, true, &result));
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  const napi_property_descriptor props[] = {
      {"open", NULL, open_segment, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unmap", NULL, unmap_segment, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unlink", NULL, unlink_segment, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CALL(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
