/* Python.h first, sizes as Py_ssize_t, as the C API asks (included by every file here). */
#ifndef MCP_AUDIT_CAPI_H
#define MCP_AUDIT_CAPI_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#endif
