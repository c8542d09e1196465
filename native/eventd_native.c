// The things eventd needs that Node's own API lacks, kept as small as possible:
//  - dupCloexec(fd): a second descriptor for an accepted connection, so the main thread can
//    destroy its own socket while a worker thread opens the copy with new net.Socket({ fd }).
//  - peerCred(fd): SO_PEERCRED of a Unix socket, so the daemon can log who reported what.
//  - lockExclusive(fd): flock(LOCK_EX | LOCK_NB), so one daemon at a time uses a journal: the
//    kernel drops the lock when its holder dies, however it dies (no stale pid file to guess at).
//  - nameThread(name): prctl(PR_SET_NAME) for the calling thread, so `top -H`, /proc/PID/task
//    and the benchmarks tell the main thread, each worker and the journal apart.
//  - sendEach(data, fds, count, sent): the same bytes to many sockets in one call, as far as each
//    takes them without blocking. A worker's delivery to S subscribers otherwise goes through
//    Node's stream machinery S times, about half of what a write costs it (perf, issue 25).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <node_api.h>

// Throws an Error carrying errno and syscall; the TypeScript wrapper adds Node's `code` (EBADF...).
static napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char message[160];
  snprintf(message, sizeof message, "%s failed: %s", syscall, strerror(err));
  napi_value msg, error, errno_value, syscall_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

static int read_fd_arg(napi_env env, napi_callback_info info, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0) {
    napi_throw_type_error(env, NULL, "expected a file descriptor (a non-negative integer)");
    return 0;
  }
  return 1;
}

static napi_value dup_cloexec(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!read_fd_arg(env, info, &fd)) return NULL;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return throw_errno(env, "dup", errno);
  napi_value result;
  napi_create_int32(env, copy, &result);
  return result;
}

static napi_value peer_cred(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!read_fd_arg(env, info, &fd)) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    return throw_errno(env, "getsockopt(SO_PEERCRED)", errno);
  napi_value result, pid, uid, gid;
  napi_create_object(env, &result);
  napi_create_int32(env, cred.pid, &pid);
  napi_create_uint32(env, cred.uid, &uid);
  napi_create_uint32(env, cred.gid, &gid);
  napi_set_named_property(env, result, "pid", pid);
  napi_set_named_property(env, result, "uid", uid);
  napi_set_named_property(env, result, "gid", gid);
  return result;
}

// true: locked; false: another open file description holds it; throws on any other error.
static napi_value lock_exclusive(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!read_fd_arg(env, info, &fd)) return NULL;
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB); while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EWOULDBLOCK) return throw_errno(env, "flock", errno);
  napi_value result;
  napi_get_boolean(env, rc == 0, &result);
  return result;
}

static napi_value name_thread(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[16];
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a thread name (a string; 15 bytes are kept)");
    return NULL;
  }
  if (prctl(PR_SET_NAME, name, 0, 0, 0) < 0) return throw_errno(env, "prctl(PR_SET_NAME)", errno);
  return NULL;
}

// sendEach(data: Uint8Array, fds: Int32Array, count, sent: Int32Array): for each of the first
// `count` fds, send(MSG_DONTWAIT | MSG_NOSIGNAL) until all of data is taken or the socket is
// full; sent[i] = the bytes taken, or -errno if an error came before any byte was. Never blocks.
static napi_value send_each(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_typedarray_type data_type, fds_type, sent_type;
  size_t data_length, fds_length, sent_length;
  void *data, *fds_data, *sent_data;
  uint32_t count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      napi_get_typedarray_info(env, argv[0], &data_type, &data_length, &data, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &fds_type, &fds_length, &fds_data, NULL, NULL) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &count) != napi_ok ||
      napi_get_typedarray_info(env, argv[3], &sent_type, &sent_length, &sent_data, NULL, NULL) != napi_ok ||
      data_type != napi_uint8_array || fds_type != napi_int32_array || sent_type != napi_int32_array ||
      count > fds_length || count > sent_length) {
    napi_throw_type_error(env, NULL, "expected (Uint8Array data, Int32Array fds, count, Int32Array sent) with count <= both lengths");
    return NULL;
  }
  const int32_t *fds = fds_data;
  int32_t *sent = sent_data;
  // A record is far below 2 GiB; the result must fit an int32.
  if (data_length > INT32_MAX) data_length = INT32_MAX;
  for (uint32_t i = 0; i < count; i++) {
    size_t done = 0;
    int err = 0;
    while (done < data_length) {
      ssize_t n = send(fds[i], (const char *)data + done, data_length - done, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        done += (size_t)n;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
        break;
      }
    }
    sent[i] = done == 0 && err != 0 ? -err : (int32_t)done;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"dupCloexec", NULL, dup_cloexec, NULL, NULL, NULL, napi_default, NULL},
    {"peerCred", NULL, peer_cred, NULL, NULL, NULL, napi_default, NULL},
    {"lockExclusive", NULL, lock_exclusive, NULL, NULL, NULL, napi_default, NULL},
    {"nameThread", NULL, name_thread, NULL, NULL, NULL, napi_default, NULL},
    {"sendEach", NULL, send_each, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
