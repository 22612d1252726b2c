/*
 * attnc.h: the C interface to attnc's runtime (libattnc_c), for bindings such as the Python
 * package in python/. No Swift types cross this boundary: plain C structs, integers and strings.
 *
 * Errors: every function that can fail returns an attnc_status; ATTNC_OK is 0 and the others
 * are AttncError.Code in order. attnc_last_error() then returns the one-line message the CLI
 * prints after "error: " (valid on the calling thread until its next failing call).
 *
 * Threads: a session may be run from several threads at once; its interpreter is not reentrant,
 * so runs of one session are serialized by a lock inside the session (open several sessions to
 * run side by side). The thread pool that kernels split work over is process-wide: the threads
 * given to attnc_session_open resize it for every session of the process.
 */
#ifndef ATTNC_H
#define ATTNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  ATTNC_OK = 0,
  ATTNC_INVALID_MODEL = 1, /* the model or plan file is malformed or inconsistent; bad inputs */
  ATTNC_UNSUPPORTED = 2,   /* well-formed input attnc does not support (op, opset, dtype) */
  ATTNC_IO = 3,            /* a file could not be read or written */
  ATTNC_USAGE = 4,         /* bad arguments (unknown input name, bad option) */
  ATTNC_VERIFICATION = 5,  /* outputs differ from a reference beyond tolerance */
  ATTNC_BATCH_FAILURE = 6  /* some models of a batch failed */
} attnc_status;

/* Element types: the ONNX TensorProto.DataType numbers (1 float32, 7 int64, 9 bool, 10 float16, ...). */
typedef int32_t attnc_dtype;

typedef struct attnc_session attnc_session;

/* An input or output of a plan. Strings are owned by the session (valid until it is closed).
 * dims[i] is a number ("128") or a symbolic dim ("batch", "seq + 1"). */
typedef struct {
  const char *name;
  attnc_dtype dtype;
  int32_t rank;
  const char *const *dims;
} attnc_port;

/* A tensor. As an input, the caller fills every field but owner (NULL) and keeps data alive for
 * the call; data is packed row-major (C order) in dtype. As an output, the library fills it:
 * data is the library's memory, released with attnc_tensor_release. */
typedef struct {
  const char *name;
  attnc_dtype dtype;
  int32_t rank;
  const int64_t *shape;
  void *data;
  size_t byte_count;
  void *owner;
} attnc_tensor;

/* The name of a status as AttncError.Code spells it ("invalidModel", ...; "ok"). */
const char *attnc_status_name(attnc_status status);
/* The message of this thread's last failure ("" if none). */
const char *attnc_last_error(void);
/* attnc's version string. */
const char *attnc_version(void);

/* Reads a plan written by `attnc convert` (or attnc_convert). threads <= 0 keeps the pool as it
 * is (2 threads by default, as `attnc run`). */
attnc_status attnc_session_open(const char *plan_path, int32_t threads, attnc_session **session);
void attnc_session_close(attnc_session *session);
int32_t attnc_session_input_count(const attnc_session *session);
int32_t attnc_session_output_count(const attnc_session *session);
attnc_status attnc_session_input(const attnc_session *session, int32_t index, attnc_port *port);
attnc_status attnc_session_output(const attnc_session *session, int32_t index, attnc_port *port);

/* Runs the plan. inputs: every input of the plan, by name, in any order. output_names: the
 * outputs wanted (NULL for all, in plan order); outputs: room for output_count tensors (the
 * plan's output count when output_names is NULL), filled on success. */
attnc_status attnc_session_run(attnc_session *session, const attnc_tensor *inputs, size_t input_count,
                               const char *const *output_names, size_t output_count, attnc_tensor *outputs);
/* Releases an output's memory and clears the struct (NULL owner: nothing to do). */
void attnc_tensor_release(attnc_tensor *tensor);

/* `attnc convert model -o plan` with options as a JSON object (NULL or "{}" for the defaults):
 * policy, seq_len (number or "auto"), max_error, max_output_error, memory_budget (bytes),
 * calibration, variant, layers, token_merge, search_time, outputs (list of names), force (bool).
 * report_json (may be NULL) receives a JSON summary, freed with attnc_string_free. */
attnc_status attnc_convert(const char *model_path, const char *plan_path, const char *options_json, char **report_json);
/* `attnc inspect path --format json` for a model or a plan; freed with attnc_string_free. */
attnc_status attnc_inspect(const char *path, char **json);
void attnc_string_free(char *text);

#ifdef __cplusplus
}
#endif

#endif
