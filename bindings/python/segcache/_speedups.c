/*
 * segcache._speedups: the compiled fast path of the segcache binding.
 *
 * A base type, CacheCore, that holds a cache handle and implements the
 * per-item methods (get, gets, set, add, replace, cas, delete, incr, decr,
 * get_many, set_many and the mapping protocol) by calling the C ABI
 * directly. segcache._fast.FastCache derives from it
 * and inherits everything else from the ctypes implementation, so the two
 * paths share option handling, lifecycle and error mapping.
 *
 * The C functions are not linked: configure() resolves them with dlsym()
 * from the dlopen() handle the ctypes layer already holds. So the extension
 * always uses the very library the package found (SEGCACHE_LIBRARY, next to
 * the package, or the repository's build directory) and never loads a second
 * copy (two Go runtimes in one process), and it builds without the library.
 *
 * Errors are raised by the same Python helpers the ctypes path uses (passed
 * to configure()), so both paths raise the same classes with the same
 * messages. Single operations keep the GIL: releasing and retaking it costs
 * more than the library call. Batches release it.
 *
 * The Go runtime does not survive fork(): a pthread_atfork child handler
 * marks the process as forked once the library is bound, and every method
 * then raises ForkError instead of calling into it (this covers a raw
 * fork(2) that bypasses Python's own at-fork hooks).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Python 3.8 (pyproject's oldest) lacks these 3.9 calls: without them the
 * extension built with a warning and failed to load, and segcache fell
 * back to the ctypes path unannounced. */
#if PY_VERSION_HEX < 0x03090000
static inline PyObject *PyObject_CallOneArg(PyObject *f, PyObject *arg) {
    return PyObject_CallFunctionObjArgs(f, arg, NULL);
}
static inline PyObject *PyObject_CallNoArgs(PyObject *f) {
    return PyObject_CallObject(f, NULL);
}
#endif

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Statuses of the C ABI that this file branches on. */
#define ST_ENOTFOUND (-1)
#define ST_EEXISTS (-2)
#define ST_ERANGE (-4)
#define MAX_KEY_LEN 255

typedef int (*get_fn)(uint64_t, const void *, size_t, void *, size_t, size_t *, uint64_t *);
/* segcache_set, segcache_add and segcache_replace */
typedef int (*set_fn)(uint64_t, const void *, size_t, const void *, size_t, uint32_t);
typedef int (*cas_fn)(uint64_t, const void *, size_t, const void *, size_t, uint32_t, uint64_t);
/* segcache_incr and segcache_decr */
typedef int (*numeric_fn)(uint64_t, const void *, size_t, uint64_t, uint64_t *);
typedef int (*delete_fn)(uint64_t, const void *, size_t);
typedef int (*get_multi_fn)(uint64_t, size_t, const void *const *, const size_t *, void *const *,
                            const size_t *, size_t *, int *);
typedef int (*set_multi_fn)(uint64_t, size_t, const void *const *, const size_t *,
                            const void *const *, const size_t *, const uint32_t *, int *);

static get_fn c_get;
static set_fn c_set, c_add, c_replace;
static cas_fn c_cas;
static numeric_fn c_incr, c_decr;
static delete_fn c_delete;
static get_multi_fn c_get_multi;
static set_multi_fn c_set_multi;

/* Python helpers of the ctypes path, set by configure(). */
static PyObject *py_error_for; /* (status, key bytes | None, what) -> exception */
static PyObject *py_check_key; /* (key bytes) -> raises for an invalid key */
static PyObject *py_as_key;    /* (obj) -> bytes, or raises TypeError */
static PyObject *py_as_value;  /* (obj) -> bytes, or raises TypeError */
static PyObject *py_ttl;       /* (obj) -> int seconds, or raises */
static PyObject *py_u64;       /* (name, obj) -> int in [0, 2**64), or raises */
static PyObject *py_fork_error; /* () -> ForkError */

static int bound;            /* configure() succeeded */
static volatile int forked;  /* in a child forked after binding */

static void on_fork_child(void) {
    if (bound)
        forked = 1;
}

/* get: values up to this size are read into a stack buffer and copied
 * once into the result; larger ones are read straight into a bytes object
 * of the size the library reported. */
#define STACK_BUF 8192
/* get_many: the per-key slot starts at SLOT_START bytes and grows (a hint
 * kept per cache) up to SLOT_MAX when values were bigger. */
#define SLOT_START 128
#define SLOT_MAX (16 << 10)
#define ARENA_MAX ((size_t)16 << 20)
/* Batch calls take their arrays from a block kept by the object up to this
 * size (not a malloc and free of ~11 KB per get_many(64)), and hold the keys of a list or tuple of up to SMALL_BATCH bytes objects
 * in an array on the stack instead of a copy of the list. */
#define SCRATCH_MAX ((size_t)64 << 10)
#define SMALL_BATCH 64

typedef struct {
    PyObject_HEAD
    uint64_t h;        /* 0 when detached (closed): the library returns EBADHANDLE */
    Py_ssize_t slot;   /* get_many slot size hint; read and written with the GIL held */
    /* The batch block kept between calls (NULL until the first), its size,
     * and whether a call (which releases the GIL) is using it: a second
     * thread's call on the same object then allocates its own. Read and
     * written with the GIL held. */
    void *scratch;
    size_t scratch_cap;
    int scratch_busy;
} CoreObject;

/* A block of size bytes for one batch call: the object's kept block when no
 * other call is using it and size is at most SCRATCH_MAX, else a new one.
 * NULL (and MemoryError) when out of memory. Give it back with
 * give_block. */
static void *take_block(CoreObject *self, size_t size) {
    if (!self->scratch_busy && size <= SCRATCH_MAX) {
        if (size > self->scratch_cap) {
            void *p = realloc(self->scratch, size);
            if (p != NULL) {
                self->scratch = p;
                self->scratch_cap = size;
            }
        }
        if (size <= self->scratch_cap) {
            self->scratch_busy = 1;
            return self->scratch;
        }
    }
    void *p = malloc(size);
    if (p == NULL)
        PyErr_NoMemory();
    return p;
}

static void give_block(CoreObject *self, void *p) {
    if (p != NULL && p == self->scratch)
        self->scratch_busy = 0;
    else
        free(p);
}

/* ---- errors ------------------------------------------------------------- */

static PyObject *raise_obj(PyObject *exc) {
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* Raises the ctypes path's exception for status st; key may be NULL. */
static PyObject *raise_status(int st, PyObject *key, const char *what) {
    PyObject *s = PyLong_FromLong(st);
    PyObject *w = PyUnicode_FromString(what);
    PyObject *exc = NULL;
    if (s != NULL && w != NULL)
        exc = PyObject_CallFunctionObjArgs(py_error_for, s, key ? key : Py_None, w, NULL);
    Py_XDECREF(s);
    Py_XDECREF(w);
    return raise_obj(exc);
}

static PyObject *raise_forked(void) {
    return raise_obj(PyObject_CallNoArgs(py_fork_error));
}

/* Before any call: NULL + an exception when the module cannot call the
 * library. */
static int usable(void) {
    if (forked) {
        raise_forked();
        return 0;
    }
    if (!bound) {
        PyErr_SetString(PyExc_RuntimeError, "segcache._speedups is not configured");
        return 0;
    }
    return 1;
}

/* The library reports an invalid key as its own status, but a miss on an
 * invalid key must raise as the ctypes path does. */
static int check_key_on_miss(PyObject *key, Py_ssize_t klen) {
    if (klen != 0 && klen <= MAX_KEY_LEN)
        return 0;
    PyObject *r = PyObject_CallOneArg(py_check_key, key);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* ---- conversions ---------------------------------------------------------- */

/* A new reference to key as bytes (str as UTF-8, buffers copied), or NULL. */
static PyObject *as_key(PyObject *key) {
    if (PyBytes_CheckExact(key)) {
        Py_INCREF(key);
        return key;
    }
    return PyObject_CallOneArg(py_as_key, key);
}

static PyObject *as_value(PyObject *value) {
    if (PyBytes_CheckExact(value)) {
        Py_INCREF(value);
        return value;
    }
    return PyObject_CallOneArg(py_as_value, value);
}

/* ttl in whole seconds (0 when obj is NULL); -1 with an exception set. */
static int64_t as_ttl(PyObject *obj) {
    if (obj == NULL)
        return 0;
    if (PyLong_CheckExact(obj)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (!overflow && v >= 0 && v <= UINT32_MAX)
            return v;
    }
    /* Every other form (and every error message) is the Python rule's. */
    PyObject *r = PyObject_CallOneArg(py_ttl, obj);
    if (r == NULL)
        return -1;
    long long v = PyLong_AsLongLong(r);
    Py_DECREF(r);
    if (v == -1 && PyErr_Occurred())
        return -1;
    return v;
}

/* Positional-or-keyword parsing for METH_FASTCALL|METH_KEYWORDS methods:
 * fills out[0..nnames) from args and kwnames; required are the first
 * `required` names. Returns 0, or -1 with TypeError set. */
static int parse_args(const char *method, const char *const *names, int nnames, int required,
                      PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                      PyObject **out) {
    for (int i = 0; i < nnames; i++)
        out[i] = NULL;
    if (nargs > nnames) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", method,
                     nnames, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        out[i] = args[i];
    if (kwnames != NULL) {
        Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t j = 0; j < nk; j++) {
            PyObject *name = PyTuple_GET_ITEM(kwnames, j);
            int found = 0;
            for (int i = 0; i < nnames; i++) {
                if (PyUnicode_CompareWithASCIIString(name, names[i]) == 0) {
                    if (out[i] != NULL) {
                        PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                                     method, names[i]);
                        return -1;
                    }
                    out[i] = args[nargs + j];
                    found = 1;
                    break;
                }
            }
            if (!found) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                             method, name);
                return -1;
            }
        }
    }
    for (int i = 0; i < required; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", method,
                         names[i]);
            return -1;
        }
    }
    return 0;
}

/* ---- single operations ------------------------------------------------------ */

/* The value of kb (bytes), None on a miss, or NULL with an exception;
 * *cas receives the item's cas token when cas is not NULL. what names the
 * operation in error messages. */
/* get_value_sized reads kb's value; size is the value's length if a call
 * that found the buffer too small reported it (0 if unknown). Every call
 * into the library is a lookup in the cache's counters and an access its
 * eviction sees, a too-small buffer included, so a known size larger than
 * the stack buffer goes straight to a buffer of that size. */
static PyObject *get_value_sized(CoreObject *self, PyObject *kb, uint64_t *cas, const char *what, size_t size) {
    const char *k = PyBytes_AS_STRING(kb);
    Py_ssize_t klen = PyBytes_GET_SIZE(kb);
    char buf[STACK_BUF];
    size_t vlen = size;
    int rc = ST_ERANGE;
    if (size <= sizeof buf) {
        rc = c_get(self->h, k, (size_t)klen, buf, sizeof buf, &vlen, cas);
        if (rc == 0)
            return PyBytes_FromStringAndSize(buf, (Py_ssize_t)vlen);
    }
    for (;;) {
        if (rc == ST_ENOTFOUND) {
            if (check_key_on_miss(kb, klen) < 0)
                return NULL;
            Py_RETURN_NONE;
        }
        if (rc != ST_ERANGE)
            return raise_status(rc, kb, what);
        /* Bigger than the stack buffer: read into a bytes object of the
         * reported size. The value may change in between: a smaller one
         * shrinks the result, a bigger one reports ERANGE again. */
        size_t cap = vlen;
        PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
        if (out == NULL)
            return NULL;
        rc = c_get(self->h, k, (size_t)klen, PyBytes_AS_STRING(out), cap, &vlen, cas);
        if (rc == 0) {
            if (vlen != cap && _PyBytes_Resize(&out, (Py_ssize_t)vlen) < 0)
                return NULL;
            return out;
        }
        Py_DECREF(out);
    }
}

static PyObject *get_value(CoreObject *self, PyObject *kb, uint64_t *cas, const char *what) {
    return get_value_sized(self, kb, cas, what, 0);
}

static PyObject *Core_get(CoreObject *self, PyObject *key) {
    if (!usable())
        return NULL;
    if (PyBytes_CheckExact(key))
        return get_value(self, key, NULL, "get");
    PyObject *kb = as_key(key);
    if (kb == NULL)
        return NULL;
    PyObject *r = get_value(self, kb, NULL, "get");
    Py_DECREF(kb);
    return r;
}

static PyObject *Core_gets(CoreObject *self, PyObject *key) {
    if (!usable())
        return NULL;
    PyObject *kb = as_key(key);
    if (kb == NULL)
        return NULL;
    uint64_t token = 0;
    PyObject *v = get_value(self, kb, &token, "gets");
    Py_DECREF(kb);
    if (v == NULL || v == Py_None)
        return v;
    PyObject *t = PyLong_FromUnsignedLongLong(token);
    if (t == NULL) {
        Py_DECREF(v);
        return NULL;
    }
    PyObject *r = PyTuple_Pack(2, v, t);
    Py_DECREF(v);
    Py_DECREF(t);
    return r;
}

static PyObject *Core_subscript(CoreObject *self, PyObject *key) {
    PyObject *v = Core_get(self, key);
    if (v == Py_None) {
        Py_DECREF(v);
        PyErr_SetObject(PyExc_KeyError, key);
        return NULL;
    }
    return v;
}

static int Core_contains(CoreObject *self, PyObject *key) {
    if (!usable())
        return -1;
    PyObject *kb = as_key(key);
    if (kb == NULL)
        return -1;
    Py_ssize_t klen = PyBytes_GET_SIZE(kb);
    size_t vlen = 0;
    /* cap 0: found-ness without copying (ERANGE means present). */
    int rc = c_get(self->h, PyBytes_AS_STRING(kb), (size_t)klen, NULL, 0, &vlen, NULL);
    int r;
    if (rc == 0 || rc == ST_ERANGE) {
        r = 1;
    } else if (rc == ST_ENOTFOUND) {
        r = check_key_on_miss(kb, klen) < 0 ? -1 : 0;
    } else {
        raise_status(rc, kb, "contains");
        r = -1;
    }
    Py_DECREF(kb);
    return r;
}

/* set with key and value already converted; 0 or -1 with an exception. */
static int set_item(CoreObject *self, PyObject *kb, PyObject *vb, uint32_t ttl) {
    int rc = c_set(self->h, PyBytes_AS_STRING(kb), (size_t)PyBytes_GET_SIZE(kb),
                   PyBytes_AS_STRING(vb), (size_t)PyBytes_GET_SIZE(vb), ttl);
    if (rc) {
        raise_status(rc, kb, "set");
        return -1;
    }
    return 0;
}

/* 1 deleted, 0 absent, -1 error. */
static int delete_item(CoreObject *self, PyObject *kb) {
    int rc = c_delete(self->h, PyBytes_AS_STRING(kb), (size_t)PyBytes_GET_SIZE(kb));
    if (rc == 0)
        return 1;
    if (rc == ST_ENOTFOUND)
        return 0;
    raise_status(rc, kb, "delete");
    return -1;
}

/* A uint64 argument: exact ints in range directly, everything else (and
 * every error message) by the Python rule. 0, or -1 with an exception. */
static int as_u64(const char *name, PyObject *obj, uint64_t *out) {
    if (PyLong_CheckExact(obj)) {
        unsigned long long v = PyLong_AsUnsignedLongLong(obj);
        if (!(v == (unsigned long long)-1 && PyErr_Occurred())) {
            *out = v;
            return 0;
        }
        PyErr_Clear(); /* negative or too big: the Python rule says which */
    }
    PyObject *r = PyObject_CallFunction(py_u64, "sO", name, obj);
    if (r == NULL)
        return -1;
    unsigned long long v = PyLong_AsUnsignedLongLong(r);
    Py_DECREF(r);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

/* The arguments of a store: (key, value[, token], ttl=0), converted in the
 * ctypes path's order (key, value, token, ttl) so that a call with several
 * bad arguments raises the same error on both paths. On success *kb and *vb
 * are new references; -1 with an exception and nothing to release. */
static int store_args(const char *method, int with_token, PyObject *const *args,
                      Py_ssize_t nargs, PyObject *kwnames, PyObject **kb, PyObject **vb,
                      uint64_t *token, uint32_t *ttl) {
    static const char *const plain[] = {"key", "value", "ttl"};
    static const char *const tokened[] = {"key", "value", "token", "ttl"};
    PyObject *a[4] = {NULL, NULL, NULL, NULL};
    int nnames = with_token ? 4 : 3;
    if (nargs == nnames - 1 && kwnames == NULL) { /* the common call: no ttl */
        for (int i = 0; i < nnames - 1; i++)
            a[i] = args[i];
    } else if (parse_args(method, with_token ? tokened : plain, nnames, nnames - 1, args, nargs,
                          kwnames, a) < 0) {
        return -1;
    }
    if (!usable())
        return -1;
    *kb = as_key(a[0]);
    if (*kb == NULL)
        return -1;
    *vb = as_value(a[1]);
    if (*vb == NULL)
        goto fail;
    if (with_token && as_u64("token", a[2], token) < 0)
        goto fail;
    int64_t t = as_ttl(a[nnames - 1]);
    if (t < 0)
        goto fail;
    *ttl = (uint32_t)t;
    return 0;
fail:
    Py_CLEAR(*kb);
    Py_CLEAR(*vb);
    return -1;
}

static PyObject *Core_set(CoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames) {
    PyObject *kb, *vb;
    uint32_t ttl;
    if (store_args("set", 0, args, nargs, kwnames, &kb, &vb, NULL, &ttl) < 0)
        return NULL;
    int r = set_item(self, kb, vb, ttl);
    Py_DECREF(kb);
    Py_DECREF(vb);
    if (r < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* add, replace and cas: True when stored, False when the library answered
 * rc_false (or, for cas, either "not stored" status), else an exception. */
static PyObject *store_result(int rc, int rc_false, int rc_false2, PyObject *kb,
                              const char *what) {
    if (rc == 0)
        Py_RETURN_TRUE;
    if (rc == rc_false || rc == rc_false2)
        Py_RETURN_FALSE;
    return raise_status(rc, kb, what);
}

static PyObject *conditional_store(CoreObject *self, set_fn fn, int rc_false, const char *what,
                                   PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    PyObject *kb, *vb;
    uint32_t ttl;
    if (store_args(what, 0, args, nargs, kwnames, &kb, &vb, NULL, &ttl) < 0)
        return NULL;
    int rc = fn(self->h, PyBytes_AS_STRING(kb), (size_t)PyBytes_GET_SIZE(kb),
                PyBytes_AS_STRING(vb), (size_t)PyBytes_GET_SIZE(vb), ttl);
    PyObject *r = store_result(rc, rc_false, rc_false, kb, what);
    Py_DECREF(kb);
    Py_DECREF(vb);
    return r;
}

static PyObject *Core_add(CoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames) {
    return conditional_store(self, c_add, ST_EEXISTS, "add", args, nargs, kwnames);
}

static PyObject *Core_replace(CoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                              PyObject *kwnames) {
    return conditional_store(self, c_replace, ST_ENOTFOUND, "replace", args, nargs, kwnames);
}

static PyObject *Core_cas(CoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames) {
    PyObject *kb, *vb;
    uint64_t token = 0;
    uint32_t ttl;
    if (store_args("cas", 1, args, nargs, kwnames, &kb, &vb, &token, &ttl) < 0)
        return NULL;
    int rc = c_cas(self->h, PyBytes_AS_STRING(kb), (size_t)PyBytes_GET_SIZE(kb),
                   PyBytes_AS_STRING(vb), (size_t)PyBytes_GET_SIZE(vb), ttl, token);
    /* A changed item and a vanished one both mean "not stored". */
    PyObject *r = store_result(rc, ST_EEXISTS, ST_ENOTFOUND, kb, "cas");
    Py_DECREF(kb);
    Py_DECREF(vb);
    return r;
}

static int Core_ass_subscript(CoreObject *self, PyObject *key, PyObject *value) {
    if (!usable())
        return -1;
    PyObject *kb = as_key(key);
    if (kb == NULL)
        return -1;
    int r;
    if (value == NULL) { /* del cache[key] */
        r = delete_item(self, kb);
        if (r == 0) {
            PyErr_SetObject(PyExc_KeyError, key);
            r = -1;
        }
        r = r < 0 ? -1 : 0;
    } else {
        PyObject *vb = as_value(value);
        r = vb == NULL ? -1 : set_item(self, kb, vb, 0);
        Py_XDECREF(vb);
    }
    Py_DECREF(kb);
    return r;
}

static PyObject *Core_delete(CoreObject *self, PyObject *key) {
    if (!usable())
        return NULL;
    PyObject *kb = as_key(key);
    if (kb == NULL)
        return NULL;
    int r = delete_item(self, kb);
    Py_DECREF(kb);
    if (r < 0)
        return NULL;
    return PyBool_FromLong(r);
}

/* incr and decr: (key, delta=1) -> the new value; KeyError when absent. */
static PyObject *numeric(CoreObject *self, numeric_fn fn, const char *what,
                         PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    static const char *const names[] = {"key", "delta"};
    PyObject *a[2];
    if (nargs == 1 && kwnames == NULL) {
        a[0] = args[0];
        a[1] = NULL;
    } else if (parse_args(what, names, 2, 1, args, nargs, kwnames, a) < 0) {
        return NULL;
    }
    if (!usable())
        return NULL;
    PyObject *kb = as_key(a[0]);
    if (kb == NULL)
        return NULL;
    uint64_t delta = 1, result = 0;
    if (a[1] != NULL && as_u64("delta", a[1], &delta) < 0) {
        Py_DECREF(kb);
        return NULL;
    }
    Py_ssize_t klen = PyBytes_GET_SIZE(kb);
    int rc = fn(self->h, PyBytes_AS_STRING(kb), (size_t)klen, delta, &result);
    PyObject *r = NULL;
    if (rc == 0) {
        r = PyLong_FromUnsignedLongLong(result);
    } else if (rc == ST_ENOTFOUND) {
        /* KeyError names the key as the caller passed it. */
        if (check_key_on_miss(kb, klen) == 0)
            PyErr_SetObject(PyExc_KeyError, a[0]);
    } else {
        raise_status(rc, kb, what);
    }
    Py_DECREF(kb);
    return r;
}

static PyObject *Core_incr(CoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
    return numeric(self, c_incr, "incr", args, nargs, kwnames);
}

static PyObject *Core_decr(CoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
    return numeric(self, c_decr, "decr", args, nargs, kwnames);
}

/* ---- batches ---------------------------------------------------------------- */

/* A new list of the keys of iterable as bytes, or NULL. */
static PyObject *key_list(PyObject *iterable) {
    /* One key where an iterable of keys is expected: a str or bytes is an
     * iterable of its characters or byte values (as _cache._check_keys). */
    if (PyUnicode_Check(iterable) || PyBytes_Check(iterable) ||
        PyByteArray_Check(iterable) || PyMemoryView_Check(iterable)) {
        PyErr_SetString(PyExc_TypeError,
                        "get_many: keys must be an iterable of keys, not a single key "
                        "(str, bytes, bytearray or memoryview)");
        return NULL;
    }
    PyObject *list = PySequence_List(iterable);
    if (list == NULL)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(list, i);
        if (PyBytes_CheckExact(k))
            continue;
        PyObject *kb = PyObject_CallOneArg(py_as_key, k);
        if (kb == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, kb); /* steals kb, releases k */
        Py_DECREF(k);
    }
    return list;
}

/* Whether every item of the exact list or tuple seq is an exact bytes
 * object: then a batch can hold its keys without copying the sequence and
 * without running any Python code. */
static int all_bytes(PyObject *seq) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!PyBytes_CheckExact(items[i]))
            return 0;
    return 1;
}

static PyObject *Core_get_many(CoreObject *self, PyObject *keys) {
    if (!usable())
        return NULL;
    /* The keys as bytes, each held by a reference while the GIL is released
     * (another thread may change the caller's list meanwhile): in refs on
     * the stack for a small list or tuple of bytes, else in a new list. */
    PyObject *held[SMALL_BATCH];
    PyObject **refs;
    PyObject *list = NULL;
    Py_ssize_t n;
    if ((PyList_CheckExact(keys) || PyTuple_CheckExact(keys)) &&
        PySequence_Fast_GET_SIZE(keys) <= SMALL_BATCH && all_bytes(keys)) {
        n = PySequence_Fast_GET_SIZE(keys);
        refs = held;
        memcpy(refs, PySequence_Fast_ITEMS(keys), (size_t)n * sizeof *refs);
        for (Py_ssize_t i = 0; i < n; i++)
            Py_INCREF(refs[i]);
    } else {
        list = key_list(keys);
        if (list == NULL)
            return NULL;
        n = PyList_GET_SIZE(list);
        refs = PySequence_Fast_ITEMS(list);
    }
    PyObject *out = NULL;
    void *mem = NULL;
    if (n == 0) {
        /* No key, but a cache: the library checks the handle (Closed on a
         * closed cache, ForkError after a raw fork). */
        int rc = c_get_multi(self->h, 0, NULL, NULL, NULL, NULL, NULL, NULL);
        if (rc)
            raise_status(rc, NULL, "get_many");
        else
            out = PyDict_New();
        goto done;
    }
    size_t slot = (size_t)self->slot;
    if (slot < SLOT_START || slot > SLOT_MAX)
        slot = SLOT_START;
    while (slot > 16 && (size_t)n * slot > ARENA_MAX)
        slot /= 2;
    /* One block: key pointers, key lengths, value buffers, capacities,
     * value lengths, statuses, then the value arena (n slots). */
    size_t un = (size_t)n;
    size_t words = 5 * un;
    size_t head = words * sizeof(void *) + un * sizeof(int);
    head = (head + 15) & ~(size_t)15;
    mem = take_block(self, head + un * slot);
    if (mem == NULL)
        goto done;
    const void **kp = (const void **)mem;
    size_t *kl = (size_t *)(kp + un);
    void **bufs = (void **)(kl + un);
    size_t *caps = (size_t *)(bufs + un);
    size_t *vl = caps + un;
    int *st = (int *)(vl + un);
    char *arena = (char *)mem + head;
    for (size_t i = 0; i < un; i++) {
        PyObject *k = refs[i];
        kp[i] = PyBytes_AS_STRING(k);
        kl[i] = (size_t)PyBytes_GET_SIZE(k);
        bufs[i] = arena + i * slot;
        caps[i] = slot;
    }
    int rc;
    /* refs holds every key alive while the GIL is released; bytes objects
     * never move or change. */
    Py_BEGIN_ALLOW_THREADS
    rc = c_get_multi(self->h, un, kp, kl, bufs, caps, vl, st);
    Py_END_ALLOW_THREADS
    if (rc) {
        raise_status(rc, NULL, "get_many");
        goto done;
    }
#if PY_VERSION_HEX < 0x030D0000
    /* Twice the room the keys need: in a table at most a quarter full an
     * insertion rarely probes past an occupied slot, and those probes are
     * mispredicted branches (4 ns per key of get_many(64); the dict costs
     * about 2 KB more; past 1,024 keys the memory matters more). */
    out = _PyDict_NewPresized(n <= 1024 ? 2 * n : n);
#else
    out = PyDict_New();
#endif
    if (out == NULL)
        goto done;
    size_t need = 0;
    for (size_t i = 0; i < un; i++) {
        PyObject *k = refs[i];
        PyObject *v;
        if (st[i] == 0) {
            v = PyBytes_FromStringAndSize(arena + i * slot, (Py_ssize_t)vl[i]);
        } else if (st[i] == ST_ENOTFOUND) {
            continue;
        } else if (st[i] == ST_ERANGE) {
            if (vl[i] > need)
                need = vl[i];
            v = get_value_sized(self, k, NULL, "get", vl[i]); /* its own buffer of the reported size */
            if (v == Py_None) {     /* gone in between */
                Py_DECREF(v);
                continue;
            }
        } else {
            raise_status(st[i], k, "get_many");
            Py_CLEAR(out);
            goto done;
        }
        if (v == NULL || PyDict_SetItem(out, k, v) < 0) {
            Py_XDECREF(v);
            Py_CLEAR(out);
            goto done;
        }
        Py_DECREF(v);
    }
    if (need > slot && need <= SLOT_MAX) {
        /* Values bigger than the slots: size them for next time. */
        while (slot < need)
            slot *= 2;
        self->slot = (Py_ssize_t)slot;
    }
done:
    give_block(self, mem);
    if (list != NULL) {
        Py_DECREF(list);
    } else {
        for (Py_ssize_t i = 0; i < n; i++)
            Py_DECREF(refs[i]);
    }
    return out;
}

/* A pair (k, v) of items, as new references to bytes; -1 on error. */
static int unpack_pair(PyObject *pair, PyObject **kb, PyObject **vb) {
    PyObject *k, *v;
    PyObject *seq = NULL;
    if (PyTuple_CheckExact(pair) && PyTuple_GET_SIZE(pair) == 2) {
        k = PyTuple_GET_ITEM(pair, 0);
        v = PyTuple_GET_ITEM(pair, 1);
    } else {
        seq = PySequence_Fast(pair, "set_many: items must be (key, value) pairs");
        if (seq == NULL)
            return -1;
        if (PySequence_Fast_GET_SIZE(seq) != 2) {
            PyErr_Format(PyExc_ValueError,
                         "set_many: items must be (key, value) pairs, got %zd values",
                         PySequence_Fast_GET_SIZE(seq));
            Py_DECREF(seq);
            return -1;
        }
        k = PySequence_Fast_GET_ITEM(seq, 0);
        v = PySequence_Fast_GET_ITEM(seq, 1);
    }
    *kb = as_key(k);
    *vb = *kb ? as_value(v) : NULL;
    Py_XDECREF(seq);
    if (*vb == NULL) {
        Py_CLEAR(*kb);
        return -1;
    }
    return 0;
}

static PyObject *Core_set_many(CoreObject *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames) {
    static const char *const names[] = {"items", "ttl"};
    PyObject *a[2];
    if (parse_args("set_many", names, 2, 1, args, nargs, kwnames, a) < 0)
        return NULL;
    if (!usable())
        return NULL;
    PyObject *items = a[0];
    PyObject *it_src = NULL;
    if (PyDict_CheckExact(items)) {
        it_src = PyDict_Items(items);
    } else if (PyObject_HasAttrString(items, "items")) {
        it_src = PyObject_CallMethod(items, "items", NULL);
    } else {
        it_src = items;
        Py_INCREF(it_src);
    }
    if (it_src == NULL)
        return NULL;
    PyObject *pairs = PySequence_List(it_src);
    Py_DECREF(it_src);
    if (pairs == NULL)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(pairs);
    /* Converted keys then values: 2n bytes objects, kept alive by this list
     * while the GIL is released. */
    PyObject *conv = PyList_New(2 * n);
    PyObject *result = NULL;
    void *mem = NULL;
    if (conv == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *kb, *vb;
        if (unpack_pair(PyList_GET_ITEM(pairs, i), &kb, &vb) < 0)
            goto done;
        PyList_SET_ITEM(conv, i, kb);
        PyList_SET_ITEM(conv, n + i, vb);
    }
    int64_t ttl = as_ttl(a[1]);
    if (ttl < 0)
        goto done;
    if (n == 0) { /* the library still checks the handle, as get_many's */
        int rc = c_set_multi(self->h, 0, NULL, NULL, NULL, NULL, NULL, NULL);
        if (rc) {
            raise_status(rc, NULL, "set_many");
        } else {
            result = Py_None;
            Py_INCREF(result);
        }
        goto done;
    }
    size_t un = (size_t)n;
    mem = take_block(self, un * (4 * sizeof(void *) + sizeof(uint32_t) + sizeof(int)));
    if (mem == NULL)
        goto done;
    const void **kp = (const void **)mem;
    size_t *kl = (size_t *)(kp + un);
    const void **vp = (const void **)(kl + un);
    size_t *vl = (size_t *)(vp + un);
    uint32_t *ttls = (uint32_t *)(vl + un);
    int *st = (int *)(ttls + un);
    for (size_t i = 0; i < un; i++) {
        PyObject *kb = PyList_GET_ITEM(conv, i);
        PyObject *vb = PyList_GET_ITEM(conv, n + i);
        kp[i] = PyBytes_AS_STRING(kb);
        kl[i] = (size_t)PyBytes_GET_SIZE(kb);
        vp[i] = PyBytes_AS_STRING(vb);
        vl[i] = (size_t)PyBytes_GET_SIZE(vb);
        ttls[i] = (uint32_t)ttl;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = c_set_multi(self->h, un, kp, kl, vp, vl, ttl ? ttls : NULL, st);
    Py_END_ALLOW_THREADS
    if (rc) {
        raise_status(rc, NULL, "set_many");
        goto done;
    }
    /* Every item was tried; report the first that failed. */
    for (size_t i = 0; i < un; i++) {
        if (st[i]) {
            raise_status(st[i], PyList_GET_ITEM(conv, i), "set_many");
            goto done;
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    give_block(self, mem);
    Py_XDECREF(conv);
    Py_DECREF(pairs);
    return result;
}

/* ---- lifecycle -------------------------------------------------------------- */

static PyObject *Core_attach(CoreObject *self, PyObject *h) {
    unsigned long long v = PyLong_AsUnsignedLongLong(h);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    self->h = (uint64_t)v;
    Py_RETURN_NONE;
}

static PyObject *Core_detach(CoreObject *self, PyObject *unused) {
    (void)unused;
    self->h = 0;
    Py_RETURN_NONE;
}

static PyObject *Core_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    (void)args;
    (void)kw;
    CoreObject *self = (CoreObject *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->h = 0;
        self->slot = SLOT_START;
        self->scratch = NULL;
        self->scratch_cap = 0;
        self->scratch_busy = 0;
    }
    return (PyObject *)self;
}

static void Core_dealloc(CoreObject *self) {
    free(self->scratch);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Core_methods[] = {
    {"get", (PyCFunction)Core_get, METH_O,
     "get(key) -> bytes | None: the value of key, or None if absent or expired."},
    {"gets", (PyCFunction)Core_gets, METH_O,
     "gets(key) -> (bytes, int) | None: the value and cas token of key, or None if absent."},
    {"set", (PyCFunction)(void (*)(void))Core_set, METH_FASTCALL | METH_KEYWORDS,
     "set(key, value, ttl=0): stores value under key; ttl in whole seconds, 0 = never."},
    {"add", (PyCFunction)(void (*)(void))Core_add, METH_FASTCALL | METH_KEYWORDS,
     "add(key, value, ttl=0) -> bool: stores value only if key is absent; False if present."},
    {"replace", (PyCFunction)(void (*)(void))Core_replace, METH_FASTCALL | METH_KEYWORDS,
     "replace(key, value, ttl=0) -> bool: stores value only if key is present; False if "
     "absent."},
    {"cas", (PyCFunction)(void (*)(void))Core_cas, METH_FASTCALL | METH_KEYWORDS,
     "cas(key, value, token, ttl=0) -> bool: stores value only if key still has the cas token "
     "from gets(); False if absent or changed since."},
    {"incr", (PyCFunction)(void (*)(void))Core_incr, METH_FASTCALL | METH_KEYWORDS,
     "incr(key, delta=1) -> int: adds delta to a numeric value (wrapping at 2**64); KeyError "
     "if absent."},
    {"decr", (PyCFunction)(void (*)(void))Core_decr, METH_FASTCALL | METH_KEYWORDS,
     "decr(key, delta=1) -> int: subtracts delta from a numeric value (stopping at 0); "
     "KeyError if absent."},
    {"delete", (PyCFunction)Core_delete, METH_O,
     "delete(key) -> bool: removes key; False if it was absent."},
    {"get_many", (PyCFunction)Core_get_many, METH_O,
     "get_many(keys) -> dict: {key: value} of the present keys, one C call, GIL released."},
    {"set_many", (PyCFunction)(void (*)(void))Core_set_many, METH_FASTCALL | METH_KEYWORDS,
     "set_many(items, ttl=0): stores every (key, value), one C call, GIL released; raises "
     "the first failing item's error after storing the others."},
    {"_attach", (PyCFunction)Core_attach, METH_O, "Sets the handle the methods use."},
    {"_detach", (PyCFunction)Core_detach, METH_NOARGS,
     "Forgets the handle: later calls raise Closed."},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods Core_as_mapping = {
    .mp_subscript = (binaryfunc)Core_subscript,
    .mp_ass_subscript = (objobjargproc)Core_ass_subscript,
};

static PySequenceMethods Core_as_sequence = {
    .sq_contains = (objobjproc)Core_contains,
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "segcache._speedups.CacheCore",
    .tp_doc = "The compiled hot methods of segcache.Cache (a base class; use segcache.Cache).",
    .tp_basicsize = sizeof(CoreObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = Core_new,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_methods = Core_methods,
    .tp_as_mapping = &Core_as_mapping,
    .tp_as_sequence = &Core_as_sequence,
};

/* ---- module ----------------------------------------------------------------- */

static int resolve(void *dl, const char *name, void **out) {
    dlerror();
    void *p = dlsym(dl, name);
    if (p == NULL) {
        PyErr_Format(PyExc_OSError, "segcache._speedups: the library has no %s", name);
        return -1;
    }
    *out = p;
    return 0;
}

static PyObject *configure(PyObject *module, PyObject *args) {
    (void)module;
    unsigned long long dl;
    PyObject *error_for, *check_key, *key, *value, *ttl, *u64, *fork_error;
    if (!PyArg_ParseTuple(args, "KOOOOOOO:configure", &dl, &error_for, &check_key, &key, &value,
                          &ttl, &u64, &fork_error))
        return NULL;
    void *h = (void *)(uintptr_t)dl;
    /* Every symbol first, then the pointers: a library that lacks one
     * leaves the module unbound, not half bound. */
    static const char *const names[] = {
        "segcache_get",     "segcache_set",  "segcache_add",  "segcache_replace",
        "segcache_cas",     "segcache_incr", "segcache_decr", "segcache_delete",
        "segcache_get_multi", "segcache_set_multi",
    };
    void *fn[sizeof names / sizeof names[0]];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (resolve(h, names[i], &fn[i]) < 0)
            return NULL;
    PyObject **slots[] = {&py_error_for, &py_check_key, &py_as_key, &py_as_value,
                          &py_ttl,       &py_u64,       &py_fork_error};
    PyObject *vals[] = {error_for, check_key, key, value, ttl, u64, fork_error};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        Py_INCREF(vals[i]);
        Py_XSETREF(*slots[i], vals[i]);
    }
    c_get = (get_fn)fn[0];
    c_set = (set_fn)fn[1];
    c_add = (set_fn)fn[2];
    c_replace = (set_fn)fn[3];
    c_cas = (cas_fn)fn[4];
    c_incr = (numeric_fn)fn[5];
    c_decr = (numeric_fn)fn[6];
    c_delete = (delete_fn)fn[7];
    c_get_multi = (get_multi_fn)fn[8];
    c_set_multi = (set_multi_fn)fn[9];
    bound = 1;
    Py_RETURN_NONE;
}

static PyObject *mark_forked(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    on_fork_child();
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(dlopen_handle, error_for, check_key, as_key, as_value, ttl, u64, fork_error): "
     "binds the library functions and the ctypes path's helpers."},
    {"_mark_forked", mark_forked, METH_NOARGS,
     "Marks the process as a forked child (Python's at-fork hook; the C one covers raw "
     "fork(2))."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "segcache._speedups",
    .m_doc = "Compiled hot paths of segcache.Cache (optional; the ctypes path is the fallback).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    if (PyType_Ready(&CoreType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    Py_INCREF(&CoreType);
    if (PyModule_AddObject(m, "CacheCore", (PyObject *)&CoreType) < 0) {
        Py_DECREF(&CoreType);
        Py_DECREF(m);
        return NULL;
    }
    static int registered;
    if (!registered) {
        if (pthread_atfork(NULL, NULL, on_fork_child) != 0) {
            Py_DECREF(m);
            return PyErr_Format(PyExc_OSError, "segcache._speedups: pthread_atfork failed");
        }
        registered = 1;
    }
    return m;
}
