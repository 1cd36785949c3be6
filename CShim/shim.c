/* The CShim target is the boundary header; this file gives SwiftPM a source. */
#include "s3_proxy_core.h"
