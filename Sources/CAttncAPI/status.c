// The part of attnc's C interface written in C: status names. Everything else is implemented
// in Swift (Sources/AttncC, @_cdecl) against include/attnc.h.
#include "attnc.h"

const char *attnc_status_name(attnc_status status) {
  switch (status) {
  case ATTNC_OK: return "ok";
  case ATTNC_INVALID_MODEL: return "invalidModel";
  case ATTNC_UNSUPPORTED: return "unsupported";
  case ATTNC_IO: return "io";
  case ATTNC_USAGE: return "usage";
  case ATTNC_VERIFICATION: return "verification";
  case ATTNC_BATCH_FAILURE: return "batchFailure";
  }
  return "unknown";
}
