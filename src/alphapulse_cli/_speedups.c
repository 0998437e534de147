/* Compiled fast path for the Coinbase Exchange feed's bulk traffic: l2update and match.
 *
 * CoinbaseFast.feed(payload, ts_local) does, in one C call, what CoinbaseAdapter.feed does
 * for the common frame: decode it (through the adapter's own msgspec decoder), check it,
 * update the book and build the normalized event. It handles only the subset of frames on
 * which the pure-Python path's answer is known in advance; for anything else (a snapshot,
 * a price the book has not cached, a size or time that is not the plain wire form, a trade
 * id out of sequence, non-ASCII bytes, a decode error...) it changes nothing and calls the
 * pure-Python feed, which stays the authority. So the events are the same either way;
 * tests/adapters/test_speedups.py compares both paths frame by frame.
 *
 * The objects it reads are the adapter's own (its product map, symbol cache, counters,
 * trade-id continuity) and the books' (L2Book._cache, BookSide.sizes/prices/live), shared,
 * not copied: the adapter keeps those dicts in place when they change.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_CHANGES 32

/* Per-kernel counters of frames (records, calls) handled and declined, process-wide: what
 * `--stats` shows under "speedups", and what the differential tests assert on, so a kernel
 * that silently stopped handling anything is noticed. */
enum { K_COINBASE, K_KRAKEN, K_SPLIT_RECORDS, K_BOOK_LEVELS, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"coinbase", "kraken", "split_records",
                                                  "book_levels"};
static unsigned long long handled[K_COUNT], declined[K_COUNT];
static PyObject *decode_error; /* msgspec.DecodeError: the one error a decode may decline on */

typedef struct {
    PyObject_HEAD
    PyObject *decode;     /* msgspec decoder's bound decode */
    PyObject *l2update;   /* the L2Update Struct type */
    PyObject *match;      /* the Match Struct type */
    PyObject *live;       /* product id -> (symbol, L2Book), valid books only */
    PyObject *symbols;    /* product id -> symbol */
    PyObject *stats;      /* counter name -> int */
    PyObject *trade_next; /* symbol -> next expected trade id */
    PyObject *fallback;   /* the pure-Python feed */
} CoinbaseFast;

/* Interned names: a_ attributes read (bids, asks, price, size, side and trade_id are also
 * event keys), k_ the other event keys, v_ values, c_ counter names. */
static PyObject *a_product_id, *a_changes, *a_time, *a_price, *a_size, *a_side, *a_trade_id,
    *a_cache, *a_bids, *a_asks, *a_sizes, *a_prices, *a_live, *a_add_key, *a_keys;
static PyObject *k_type, *k_exchange, *k_symbol, *k_venue_symbol, *k_ts_exchange, *k_ts_local;
static PyObject *v_book_update, *v_trade, *v_coinbase, *v_buy, *v_sell, *c_book_updates,
    *c_trades, *one;
static PyObject *t_book_update, *t_trade; /* event templates, see event_from */
static PyObject *v_kraken, *a_price_key, *a_type_key, *k_channel, *k_data, *k_symbol_v2,
    *k_checksum, *k_timestamp, *k_qty, *k_a, *k_b, *k_c, *k_as, *k_bs, *v_book, *v_update,
    *c_checksum_ok;
static PyObject *tk_book_update, *tk_trade;
static void crc_init(void);

/* ---- wire text checks ------------------------------------------------------------------ */

/* The UTF-8 bytes of a str, or NULL (no exception left set). ASCII strings hand out their
 * own buffer, so this costs no copy for wire text. */
static const char *
text_of(PyObject *o, Py_ssize_t *n)
{
    if (!PyUnicode_CheckExact(o))
        return NULL;
    const char *s = PyUnicode_AsUTF8AndSize(o, n);
    /* Lone surrogates have no UTF-8 form: the Python path decides. Any other error stays
     * set, and run_fast propagates it. */
    if (s == NULL && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
        PyErr_Clear();
    return s;
}

/* A size or price in the plain wire form: digits with at most one '.', at least one digit,
 * at most 64 characters (so float() would neither overflow nor underflow it). 1 if it is,
 * with *zero set when every digit is 0; 0 for anything else (the Python path decides). */
static int
plain_decimal(PyObject *o, int *zero)
{
    Py_ssize_t n;
    const char *s = text_of(o, &n);
    if (s == NULL || n < 1 || n > 64)
        return 0;
    int digits = 0, dot = 0, nonzero = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            digits++;
            nonzero |= (c != '0');
        }
        else if (c == '.' && !dot)
            dot = 1;
        else
            return 0;
    }
    if (!digits)
        return 0;
    *zero = !nonzero;
    return 1;
}

static int
two(const char *s, int *v)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return 0;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long long
days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DDTHH:MM:SS.fZ" with 1 to 9 fraction digits (Coinbase
 * sends 6, older messages 3) as epoch ns; 0 for any other text, which the Python path's
 * iso_ns decides. Field ranges are those datetime accepts, so both agree. */
static int
rfc3339_ns(PyObject *o, long long *out)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    static const long long scale[] = {0,      100000000, 10000000, 1000000, 100000,
                                      10000,  1000,      100,      10,      1};
    Py_ssize_t n;
    const char *s = text_of(o, &n);
    if (s == NULL || n < 20 || n > 30 || s[n - 1] != 'Z')
        return 0;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return 0;
    int yh, yl, mo, d, h, mi, se;
    if (!two(s, &yh) || !two(s + 2, &yl) || !two(s + 5, &mo) || !two(s + 8, &d) ||
        !two(s + 11, &h) || !two(s + 14, &mi) || !two(s + 17, &se))
        return 0;
    int y = yh * 100 + yl;
    /* Years whose nanoseconds fit in 64 bits; Python's ints take the rest. */
    if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > dim[mo - 1] + (mo == 2 && leap))
        return 0;
    long long frac = 0;
    Py_ssize_t digits = n - 21; /* between '.' and 'Z' */
    if (n > 20) {
        if (s[19] != '.' || digits < 1)
            return 0;
        for (Py_ssize_t i = 20; i < n - 1; i++) {
            if (s[i] < '0' || s[i] > '9')
                return 0;
            frac = frac * 10 + (s[i] - '0');
        }
        frac *= scale[digits];
    }
    long long secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    *out = secs * 1000000000LL + frac;
    return 1;
}

static int
all_ascii(PyObject *payload)
{
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(payload);
    Py_ssize_t n = PyBytes_GET_SIZE(payload), i = 0;
    uint64_t acc = 0, w;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= p[i];
    return (acc & 0x8080808080808080ULL) == 0;
}

/* ---- helpers that may fail with an exception set ------------------------------------- */

static int
add_to_int_attr(PyObject *obj, PyObject *name, long delta)
{
    PyObject *v = PyObject_GetAttr(obj, name);
    if (v == NULL)
        return -1;
    long cur = PyLong_AsLong(v);
    Py_DECREF(v);
    if (cur == -1 && PyErr_Occurred())
        return -1;
    PyObject *nv = PyLong_FromLong(cur + delta);
    if (nv == NULL)
        return -1;
    int rc = PyObject_SetAttr(obj, name, nv);
    Py_DECREF(nv);
    return rc;
}

static int
bump(PyObject *counters, PyObject *name)
{
    PyObject *v = PyDict_GetItemWithError(counters, name);
    if (v == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_KeyError, name);
        return -1;
    }
    PyObject *nv = PyNumber_Add(v, one);
    if (nv == NULL)
        return -1;
    int rc = PyDict_SetItem(counters, name, nv);
    Py_DECREF(nv);
    return rc;
}

/* An event from its template: the template holds every key in the order the Python path
 * builds them (JSON output keeps insertion order), so a copy has the dict's final size and
 * filling it only replaces values. Sets symbol, venue_symbol, ts_exchange and ts_local. */
static PyObject *
event_from(PyObject *tmpl, PyObject *sym, PyObject *pid, long long ts_ex, PyObject *ts_local)
{
    PyObject *ev = PyDict_Copy(tmpl);
    if (ev == NULL)
        return NULL;
    PyObject *ts = PyLong_FromLongLong(ts_ex);
    if (ts == NULL || PyDict_SetItem(ev, k_symbol, sym) ||
        PyDict_SetItem(ev, k_venue_symbol, pid) || PyDict_SetItem(ev, k_ts_exchange, ts) ||
        PyDict_SetItem(ev, k_ts_local, ts_local)) {
        Py_XDECREF(ts);
        Py_DECREF(ev);
        return NULL;
    }
    Py_DECREF(ts);
    return ev;
}

static PyObject *
make_template(PyObject *type, PyObject *exchange, PyObject *const *tail, int ntail)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    PyObject *head[] = {k_type, k_exchange, k_symbol, k_venue_symbol, k_ts_exchange, k_ts_local};
    int rc = PyDict_SetItem(d, k_type, type) || PyDict_SetItem(d, k_exchange, exchange);
    for (int i = 2; i < 6 && !rc; i++)
        rc = PyDict_SetItem(d, head[i], Py_None);
    for (int i = 0; i < ntail && !rc; i++)
        rc = PyDict_SetItem(d, tail[i], Py_None);
    if (rc) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *
one_event_list(PyObject *ev)
{
    if (ev == NULL)
        return NULL;
    PyObject *out = PyList_New(1);
    if (out == NULL) {
        Py_DECREF(ev);
        return NULL;
    }
    PyList_SET_ITEM(out, 0, ev);
    return out;
}

/* ---- events as JSON lines ------------------------------------------------------------- */

/* feed_into writes an event straight into the caller's bytearray, byte for byte what
 * msgspec's encode_lines makes of the event dict (tests compare the two): this skips the
 * dict, its lists and the encoder. Only texts that need no JSON escaping go this way. */
#define EVENT_LINE_MAX 8192 /* > 32 changes of two 64-character texts, plus the head */

typedef struct {
    Py_ssize_t n;
    char buf[EVENT_LINE_MAX];
} Line;

static void
put(Line *w, const char *s, Py_ssize_t n)
{
    if (w->n + n <= EVENT_LINE_MAX)
        memcpy(w->buf + w->n, s, n);
    w->n += n;
}

#define PUT_LIT(w, s) put((w), (s), (Py_ssize_t)sizeof(s) - 1)

static void
put_text(Line *w, PyObject *o)
{
    Py_ssize_t n = 0;
    const char *s = text_of(o, &n);
    put(w, "\"", 1);
    if (s != NULL)
        put(w, s, n);
    put(w, "\"", 1);
}

static void
put_ll(Line *w, long long v)
{
    char tmp[24];
    int i = 24;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    put(w, tmp + i, 24 - i);
}

/* Printable ASCII without '"' or '\\', at most 64 bytes: written as is between quotes. */
static int
json_safe(PyObject *o)
{
    Py_ssize_t n;
    const char *s = text_of(o, &n);
    if (s == NULL || n > 64)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

static void put_head_opt(Line *w, const char *type_and_exchange, PyObject *sym, PyObject *pid,
                         int has_ts, long long ts_ex, long long ts_local);

static void
put_head(Line *w, const char *type_and_exchange, PyObject *sym, PyObject *pid, long long ts_ex,
         long long ts_local)
{
    put_head_opt(w, type_and_exchange, sym, pid, 1, ts_ex, ts_local);
}

static void
put_head_opt(Line *w, const char *type_and_exchange, PyObject *sym, PyObject *pid, int has_ts,
             long long ts_ex, long long ts_local)
{
    put(w, type_and_exchange, (Py_ssize_t)strlen(type_and_exchange));
    PUT_LIT(w, ",\"symbol\":");
    put_text(w, sym);
    PUT_LIT(w, ",\"venue_symbol\":");
    put_text(w, pid);
    PUT_LIT(w, ",\"ts_exchange\":");
    if (has_ts)
        put_ll(w, ts_ex);
    else
        PUT_LIT(w, "null");
    PUT_LIT(w, ",\"ts_local\":");
    put_ll(w, ts_local);
}

static int
append_line(Line *w, PyObject *out)
{
    if (w->n > EVENT_LINE_MAX) {
        PyErr_SetString(PyExc_SystemError, "event line longer than its buffer");
        return -1;
    }
    Py_ssize_t old = PyByteArray_GET_SIZE(out);
    if (PyByteArray_Resize(out, old + w->n))
        return -1;
    memcpy(PyByteArray_AS_STRING(out) + old, w->buf, w->n);
    return 0;
}

/* ---- l2update ------------------------------------------------------------------------- */

typedef struct {
    PyObject *price, *size; /* borrowed from the change tuple */
    PyObject *key;          /* new reference: signed key */
    int buy, zero;
} Change;

/* Store one prepared change into its side; mirrors BookSide.apply. */
static int
store(PyObject *side, Change *c)
{
    PyObject *sizes = PyObject_GetAttr(side, a_sizes);
    if (sizes == NULL)
        return -1;
    int rc = -1;
    if (!PyDict_Check(sizes)) {
        PyErr_SetString(PyExc_TypeError, "BookSide.sizes is not a dict");
        goto done;
    }
    PyObject *old = PyDict_GetItemWithError(sizes, c->key);
    if (old == NULL && PyErr_Occurred())
        goto done;
    if (!c->zero) {
        if (old == NULL || old == Py_None) {
            if (old == NULL) {
                PyObject *r = PyObject_CallMethodObjArgs(side, a_add_key, c->key, c->price, NULL);
                if (r == NULL)
                    goto done;
                Py_DECREF(r);
            }
            else {  /* a removed level coming back takes its new text */
                PyObject *prices = PyObject_GetAttr(side, a_prices);
                if (prices == NULL)
                    goto done;
                int e = PyObject_SetItem(prices, c->key, c->price);
                Py_DECREF(prices);
                if (e)
                    goto done;
            }
            if (add_to_int_attr(side, a_live, 1))
                goto done;
        }
        if (PyDict_SetItem(sizes, c->key, c->size))
            goto done;
    }
    else if (old != NULL && old != Py_None) {
        if (PyDict_SetItem(sizes, c->key, Py_None) || add_to_int_attr(side, a_live, -1))
            goto done;
    }
    rc = 0;
done:
    Py_DECREF(sizes);
    return rc;
}

static PyObject *
pair(PyObject *a, PyObject *b)
{
    PyObject *l = PyList_New(2);
    if (l == NULL)
        return NULL;
    Py_INCREF(a);
    Py_INCREF(b);
    PyList_SET_ITEM(l, 0, a);
    PyList_SET_ITEM(l, 1, b);
    return l;
}

/* The fast paths return a new list of events; Py_None (borrowed) for "not here: take the
 * Python path"; Py_True (borrowed) when the event went into `out` as a JSON line (only
 * when `out` is given); NULL on error. */
static PyObject *
fast_l2update(CoinbaseFast *self, PyObject *msg, PyObject *ts_local, PyObject *out,
              long long tsl)
{
    PyObject *result = NULL, *pid = NULL, *changes = NULL, *t = NULL, *cache = NULL,
             *bids_out = NULL, *asks_out = NULL, *live = NULL;
    Change ch[MAX_CHANGES];
    Py_ssize_t n = 0, prepared = 0;
    long long ts_ex;

    pid = PyObject_GetAttr(msg, a_product_id);
    if (pid == NULL)
        return NULL;
    live = PyDict_GetItemWithError(self->live, pid);
    if (live == NULL || !PyTuple_CheckExact(live) || PyTuple_GET_SIZE(live) != 2) {
        live = NULL;
        result = PyErr_Occurred() ? NULL : Py_None;
        goto done;
    }
    Py_INCREF(live); /* add_key runs Python code: hold what we borrowed */
    PyObject *sym = PyTuple_GET_ITEM(live, 0), *book = PyTuple_GET_ITEM(live, 1);
    t = PyObject_GetAttr(msg, a_time);
    changes = PyObject_GetAttr(msg, a_changes);
    if (t == NULL || changes == NULL)
        goto done;
    result = Py_None;
    if (!rfc3339_ns(t, &ts_ex) || !PyList_CheckExact(changes))
        goto done;
    n = PyList_GET_SIZE(changes);
    if (n < 1 || n > MAX_CHANGES)
        goto done;
    result = NULL;
    cache = PyObject_GetAttr(book, a_cache);
    if (cache == NULL)
        goto done;
    result = Py_None;
    if (!PyDict_CheckExact(cache))
        goto done;
    if (out != NULL && !(json_safe(sym) && json_safe(pid)))
        out = NULL; /* texts that need escaping: let msgspec encode the dict */
    /* Check every change before touching the book: a frame applies whole or not at all. */
    for (; prepared < n; prepared++) {
        PyObject *c = PyList_GET_ITEM(changes, prepared);
        if (!PyTuple_CheckExact(c) || PyTuple_GET_SIZE(c) != 3)
            goto done;
        Change *x = &ch[prepared];
        PyObject *side = PyTuple_GET_ITEM(c, 0);
        x->price = PyTuple_GET_ITEM(c, 1);
        x->size = PyTuple_GET_ITEM(c, 2);
        x->key = NULL;
        if (!PyUnicode_Check(side))
            goto done;
        x->buy = PyUnicode_CompareWithASCIIString(side, "buy") == 0;
        if (!x->buy && PyUnicode_CompareWithASCIIString(side, "sell") != 0)
            goto done;
        if (!plain_decimal(x->size, &x->zero))
            goto done;
        PyObject *key = PyDict_GetItemWithError(cache, x->price);
        if (key == NULL) {
            if (PyErr_Occurred()) {
                result = NULL;
                goto done;
            }
            goto done; /* a price this book has not keyed yet */
        }
        x->key = x->buy ? (Py_INCREF(key), key) : PyNumber_Negative(key);
        if (x->key == NULL) {
            result = NULL;
            goto done;
        }
    }
    /* From here the frame is ours. The output is made first (the JSON line appended, or
     * the event built) and the book changed after: a failed write leaves it untouched. */
    result = NULL;
    PyObject *ev = NULL;
    if (out != NULL) {
        Line w;
        w.n = 0;
        put_head(&w, "{\"type\":\"book_update\",\"exchange\":\"coinbase\"", sym, pid, ts_ex,
                 tsl);
        for (int buy = 1; buy >= 0; buy--) {
            if (buy)
                PUT_LIT(&w, ",\"bids\":[");
            else
                PUT_LIT(&w, "],\"asks\":[");
            int first = 1;
            for (Py_ssize_t j = 0; j < n; j++) {
                if (ch[j].buy != buy)
                    continue;
                if (!first)
                    PUT_LIT(&w, ",");
                first = 0;
                PUT_LIT(&w, "[");
                put_text(&w, ch[j].price);
                PUT_LIT(&w, ",");
                put_text(&w, ch[j].size);
                PUT_LIT(&w, "]");
            }
        }
        PUT_LIT(&w, "]}\n");
        if (append_line(&w, out))
            goto done;
    }
    else {
        bids_out = PyList_New(0);
        asks_out = PyList_New(0);
        if (bids_out == NULL || asks_out == NULL)
            goto done;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *lv = pair(ch[i].price, ch[i].size);
            if (lv == NULL || PyList_Append(ch[i].buy ? bids_out : asks_out, lv)) {
                Py_XDECREF(lv);
                goto done;
            }
            Py_DECREF(lv);
        }
        ev = event_from(t_book_update, sym, pid, ts_ex, ts_local);
        if (ev == NULL || PyDict_SetItem(ev, a_bids, bids_out) ||
            PyDict_SetItem(ev, a_asks, asks_out)) {
            Py_XDECREF(ev);
            goto done;
        }
    }
    PyObject *bside = NULL, *aside = NULL;
    Py_ssize_t i = 0;
    for (; i < n; i++) {
        Change *x = &ch[i];
        PyObject **sidep = x->buy ? &bside : &aside;
        if (*sidep == NULL) {
            *sidep = PyObject_GetAttr(book, x->buy ? a_bids : a_asks);
            if (*sidep == NULL)
                break;
        }
        if (store(*sidep, x))
            break;
    }
    Py_XDECREF(bside);
    Py_XDECREF(aside);
    if (i < n || bump(self->stats, c_book_updates)) {
        Py_XDECREF(ev);
        goto done;
    }
    result = out != NULL ? Py_True : one_event_list(ev);
done:
    for (Py_ssize_t i = 0; i < prepared && i < n; i++)
        Py_XDECREF(ch[i].key);
    Py_XDECREF(bids_out);
    Py_XDECREF(asks_out);
    Py_XDECREF(cache);
    Py_XDECREF(live);
    Py_XDECREF(changes);
    Py_XDECREF(t);
    Py_XDECREF(pid);
    return result;
}

/* ---- match ---------------------------------------------------------------------------- */

static PyObject *
fast_match(CoinbaseFast *self, PyObject *msg, PyObject *ts_local, PyObject *out, long long tsl)
{
    PyObject *result = NULL, *pid = NULL, *price = NULL, *size = NULL, *t = NULL, *tid = NULL,
             *side = NULL, *tid_text = NULL, *next = NULL, *sym = NULL;
    long long ts_ex;
    int zero;

    pid = PyObject_GetAttr(msg, a_product_id);
    price = PyObject_GetAttr(msg, a_price);
    size = PyObject_GetAttr(msg, a_size);
    t = PyObject_GetAttr(msg, a_time);
    tid = PyObject_GetAttr(msg, a_trade_id);
    side = PyObject_GetAttr(msg, a_side);
    if (!pid || !price || !size || !t || !tid || !side)
        goto done;
    sym = PyDict_GetItemWithError(self->symbols, pid);
    if (sym == NULL) {
        result = PyErr_Occurred() ? NULL : Py_None;
        goto done;
    }
    Py_INCREF(sym);
    result = Py_None;
    if (!plain_decimal(price, &zero) || zero || !plain_decimal(size, &zero) || !rfc3339_ns(t, &ts_ex))
        goto done;
    PyObject *aggressor; /* the wire side is the maker's */
    if (!PyUnicode_Check(side))
        goto done;
    if (PyUnicode_CompareWithASCIIString(side, "buy") == 0)
        aggressor = v_sell;
    else if (PyUnicode_CompareWithASCIIString(side, "sell") == 0)
        aggressor = v_buy;
    else
        goto done;
    long long tid_ll = PyLong_AsLongLong(tid);
    if (tid_ll == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            result = NULL;
            goto done;
        }
        PyErr_Clear(); /* an id beyond 64 bits: the Python path's ints take it */
        goto done;
    }
    if (out != NULL && !(json_safe(sym) && json_safe(pid)))
        out = NULL; /* texts that need escaping: let msgspec encode the dict */
    /* Only the next id in sequence is ours; gaps and repeats take the Python path. */
    PyObject *want = PyDict_GetItemWithError(self->trade_next, sym);
    if (want == NULL) {
        result = PyErr_Occurred() ? NULL : Py_None;
        goto done;
    }
    int same = PyObject_RichCompareBool(want, tid, Py_EQ);
    if (same != 1) {
        result = same < 0 ? NULL : Py_None;
        goto done;
    }
    /* The output first, then the trade id and the counter: a failed write must leave the
     * trade unseen, or the Python path would drop it as a repeat. */
    result = NULL;
    PyObject *ev = NULL;
    if (out != NULL) {
        Line w;
        w.n = 0;
        put_head(&w, "{\"type\":\"trade\",\"exchange\":\"coinbase\"", sym, pid, ts_ex, tsl);
        PUT_LIT(&w, ",\"price\":");
        put_text(&w, price);
        PUT_LIT(&w, ",\"size\":");
        put_text(&w, size);
        PUT_LIT(&w, ",\"side\":");
        put_text(&w, aggressor);
        PUT_LIT(&w, ",\"trade_id\":\"");
        put_ll(&w, tid_ll);
        PUT_LIT(&w, "\"}\n");
        if (append_line(&w, out))
            goto done;
    }
    else {
        tid_text = PyObject_Str(tid);
        if (tid_text == NULL)
            goto done;
        ev = event_from(t_trade, sym, pid, ts_ex, ts_local);
        if (ev == NULL || PyDict_SetItem(ev, a_price, price) ||
            PyDict_SetItem(ev, a_size, size) || PyDict_SetItem(ev, a_side, aggressor) ||
            PyDict_SetItem(ev, a_trade_id, tid_text)) {
            Py_XDECREF(ev);
            goto done;
        }
    }
    next = PyNumber_Add(tid, one);
    if (next == NULL || PyDict_SetItem(self->trade_next, sym, next) ||
        bump(self->stats, c_trades)) {
        Py_XDECREF(ev);
        goto done;
    }
    result = out != NULL ? Py_True : one_event_list(ev);
done:
    Py_XDECREF(sym);
    Py_XDECREF(next);
    Py_XDECREF(tid_text);
    Py_XDECREF(side);
    Py_XDECREF(tid);
    Py_XDECREF(t);
    Py_XDECREF(size);
    Py_XDECREF(price);
    Py_XDECREF(pid);
    return result;
}

/* ---- the type ------------------------------------------------------------------------- */

/* One frame through the fast paths: as fast_l2update returns, plus Py_None for a frame
 * that is neither, or that does not decode (the Python path reports it). */
static PyObject *
run_fast(CoinbaseFast *self, PyObject *payload, PyObject *ts_local, PyObject *out,
         long long tsl)
{
    PyObject *res = Py_None;
    if (!PyBytes_CheckExact(payload) || !PyLong_CheckExact(ts_local) || !all_ascii(payload)) {
        declined[K_COINBASE]++;
        return res;
    }
    PyObject *msg = PyObject_CallOneArg(self->decode, payload);
    if (msg == NULL) {
        /* A frame that does not decode is the Python path's to report; any other error
         * (the decoder itself broken) propagates. */
        if (!PyErr_ExceptionMatches(decode_error))
            return NULL;
        PyErr_Clear();
        declined[K_COINBASE]++;
        return res;
    }
    PyObject *tp = (PyObject *)Py_TYPE(msg);
    if (tp == self->l2update)
        res = fast_l2update(self, msg, ts_local, out, tsl);
    else if (tp == self->match)
        res = fast_match(self, msg, ts_local, out, tsl);
    Py_DECREF(msg);
    /* Py_None is the one way to decline. An exception (a renamed attribute, a book altered
     * from outside, out of memory) is never turned into a decline: it propagates. */
    if (res == NULL)
        return NULL;
    if (PyErr_Occurred()) {
        if (res != Py_None && res != Py_True)
            Py_DECREF(res);
        return NULL;
    }
    if (res == Py_None)
        declined[K_COINBASE]++;
    else
        handled[K_COINBASE]++;
    return res;
}

static PyObject *
CoinbaseFast_feed(CoinbaseFast *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "feed(payload, ts_local) takes 2 arguments");
        return NULL;
    }
    PyObject *res = run_fast(self, args[0], args[1], NULL, 0);
    if (res != Py_None)
        return res; /* the events, or NULL with the exception */
    return PyObject_Vectorcall(self->fallback, args, 2, NULL);
}

static PyObject *
CoinbaseFast_feed_into(CoinbaseFast *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyByteArray_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, "feed_into(payload, ts_local, out: bytearray)");
        return NULL;
    }
    PyObject *out = args[2];
    long long tsl = 0;
    if (PyLong_CheckExact(args[1])) {
        tsl = PyLong_AsLongLong(args[1]);
        if (tsl == -1 && PyErr_Occurred()) { /* beyond 64 bits: events as dicts */
            PyErr_Clear();
            out = NULL;
        }
    }
    PyObject *res = run_fast(self, args[0], args[1], out, tsl);
    if (res == NULL)
        return NULL;
    if (res == Py_True)
        Py_RETURN_NONE;
    if (res != Py_None)
        return res;
    return PyObject_Vectorcall(self->fallback, args, 2, NULL);
}

static int
CoinbaseFast_init(CoinbaseFast *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"decode", "l2update", "match", "live", "symbols", "stats",
                             "trade_next", "fallback", NULL};
    PyObject *o[8];
    if (decode_error == NULL) {
        PyObject *msgspec = PyImport_ImportModule("msgspec");
        if (msgspec == NULL)
            return -1;
        decode_error = PyObject_GetAttrString(msgspec, "DecodeError");
        Py_DECREF(msgspec);
        if (decode_error == NULL)
            return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOO!O!O!O!O:CoinbaseFast", kwlist, &o[0],
                                     &o[1], &o[2], &PyDict_Type, &o[3], &PyDict_Type, &o[4],
                                     &PyDict_Type, &o[5], &PyDict_Type, &o[6], &o[7]))
        return -1;
    PyObject **slots[] = {&self->decode, &self->l2update, &self->match, &self->live,
                          &self->symbols, &self->stats, &self->trade_next, &self->fallback};
    for (int i = 0; i < 8; i++) {
        Py_INCREF(o[i]);
        Py_XSETREF(*slots[i], o[i]);
    }
    return 0;
}

static PyObject *
CoinbaseFast_set_trade_next(CoinbaseFast *self, PyObject *d)
{
    if (!PyDict_Check(d)) {
        PyErr_SetString(PyExc_TypeError, "trade_next must be a dict");
        return NULL;
    }
    Py_INCREF(d);
    Py_XSETREF(self->trade_next, d);
    Py_RETURN_NONE;
}

static int
CoinbaseFast_traverse(CoinbaseFast *self, visitproc visit, void *arg)
{
    Py_VISIT(self->decode);
    Py_VISIT(self->l2update);
    Py_VISIT(self->match);
    Py_VISIT(self->live);
    Py_VISIT(self->symbols);
    Py_VISIT(self->stats);
    Py_VISIT(self->trade_next);
    Py_VISIT(self->fallback);
    return 0;
}

static int
CoinbaseFast_clear(CoinbaseFast *self)
{
    Py_CLEAR(self->decode);
    Py_CLEAR(self->l2update);
    Py_CLEAR(self->match);
    Py_CLEAR(self->live);
    Py_CLEAR(self->symbols);
    Py_CLEAR(self->stats);
    Py_CLEAR(self->trade_next);
    Py_CLEAR(self->fallback);
    return 0;
}

static void
CoinbaseFast_dealloc(CoinbaseFast *self)
{
    PyObject_GC_UnTrack(self);
    CoinbaseFast_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef CoinbaseFast_methods[] = {
    {"feed", (PyCFunction)(void (*)(void))CoinbaseFast_feed, METH_FASTCALL,
     "feed(payload, ts_local) -> list of events (the pure-Python feed's, for other frames)"},
 {"feed_into", (PyCFunction)(void (*)(void))CoinbaseFast_feed_into, METH_FASTCALL,
     "feed_into(payload, ts_local, out) -> None when the events were appended to the "
     "bytearray out as JSON lines, else the list of events (as feed returns them)."},
    {"set_trade_next", (PyCFunction)CoinbaseFast_set_trade_next, METH_O,
     "Point trade-id continuity at another dict (connections of one venue share one)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CoinbaseFastType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "alphapulse_cli._speedups.CoinbaseFast",
    .tp_basicsize = sizeof(CoinbaseFast),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The compiled l2update/match path of one CoinbaseAdapter.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)CoinbaseFast_init,
    .tp_dealloc = (destructor)CoinbaseFast_dealloc,
    .tp_traverse = (traverseproc)CoinbaseFast_traverse,
    .tp_clear = (inquiry)CoinbaseFast_clear,
    .tp_methods = CoinbaseFast_methods,
};

/* ---- Kraken ----------------------------------------------------------------------------
 *
 * KrakenFast.feed / feed_into: the v1 and v2 book updates and trades of KrakenAdapter, on
 * the same rule as CoinbaseFast: each frame is checked whole before anything changes, and
 * whatever is not certain (a snapshot, a level with more decimals than the book's precision
 * so far, a price the token cache would have to round, a trade id out of sequence, a
 * timestamp not in the plain form...) is declined and handed to the pure-Python feed.
 *
 * The adapter keeps `live`: venue symbol -> (symbol, L2Book, depth, price tokens, qty
 * tokens, price places, qty places, inferred price places, inferred qty places) for every
 * book that is valid, rebuilt by the Python side whenever its own path ran. Places are -1
 * for v1 (the wire text is the token's source). The token dicts are the adapter's own
 * (KrakenAdapter._tokens), so a level's token is computed once, by whichever path met it
 * first, and a checksum is 20 dict lookups, a join and one CRC32.
 */

#define KR_MAX_LEVELS 64
#define KR_TOKEN_CACHE 20000 /* kraken.py _TOKEN_CACHE */

static uint32_t crc_table[256];

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t
crc32_of(const char *s, Py_ssize_t n)
{
    uint32_t c = 0xFFFFFFFFU;
    for (Py_ssize_t i = 0; i < n; i++)
        c = crc_table[(c ^ (unsigned char)s[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFU;
}

typedef struct {
    PyObject_HEAD
    PyObject *decode;   /* the adapter's msgspec decode (float literals as text) */
    PyObject *live;     /* see above */
    PyObject *symbols;  /* venue symbol -> symbol */
    PyObject *stats;    /* counter name -> int */
    PyObject *trade_next;
    PyObject *mismatch; /* (event, expected, computed) -> the frame's events */
    PyObject *fallback; /* the pure-Python feed */
    int protocol;       /* 1 or 2; 0: unknown, every frame goes to Python */
} KrakenFast;

/* Decimals of a plain decimal text (validated by plain_decimal). */
static int
places_of(const char *s, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++)
        if (s[i] == '.')
            return (int)(n - i - 1);
    return 0;
}

/* The checksum token of a plain decimal text: its digits, padded or cut to `places`
 * decimals (places < 0: as sent), leading zeros dropped. 0 when cutting would drop a
 * nonzero digit (the Python path rounds with Decimal) or the token does not fit. */
static int
make_token(const char *s, Py_ssize_t n, int places, char *out, Py_ssize_t cap, Py_ssize_t *len)
{
    Py_ssize_t k = 0, i = 0;
    int frac = -1;
    for (; i < n; i++) {
        if (s[i] == '.') {
            frac = 0;
            continue;
        }
        if (frac >= 0 && places >= 0 && frac >= places) {
            if (s[i] != '0')
                return 0;
            continue;
        }
        if (frac >= 0)
            frac++;
        if (k >= cap)
            return 0;
        out[k++] = s[i];
    }
    if (places >= 0) {
        for (int f = frac < 0 ? 0 : frac; f < places; f++) {
            if (k >= cap)
                return 0;
            out[k++] = '0';
        }
    }
    Py_ssize_t z = 0;
    while (z < k && out[z] == '0')
        z++;
    memmove(out, out + z, k - z);
    *len = k - z;
    return 1;
}

/* The token of `text`, from `cache` or made and stored there. NULL with no error: decline. */
static PyObject *
token_for(PyObject *cache, PyObject *text, int places)
{
    PyObject *t = PyDict_GetItemWithError(cache, text);
    if (t != NULL || PyErr_Occurred())
        return t;
    Py_ssize_t n, len;
    const char *s = text_of(text, &n);
    char buf[160];
    int zero;
    if (s == NULL || !plain_decimal(text, &zero) || !make_token(s, n, places, buf, 160, &len))
        return NULL;
    t = PyUnicode_FromStringAndSize(buf, len);
    if (t == NULL)
        return NULL;
    int e = PyDict_SetItem(cache, text, t);
    Py_DECREF(t);
    return e ? NULL : t; /* the dict holds it */
}

static int
side_parts(PyObject *side, PyObject **keys, PyObject **sizes, PyObject **prices)
{
    *keys = PyObject_GetAttr(side, a_keys);
    *sizes = PyObject_GetAttr(side, a_sizes);
    *prices = PyObject_GetAttr(side, a_prices);
    if (*keys == NULL || *sizes == NULL || *prices == NULL)
        return -1;
    if (!PyList_Check(*keys) || !PyDict_Check(*sizes) || !PyDict_Check(*prices)) {
        PyErr_SetString(PyExc_TypeError, "not a BookSide");
        return -1;
    }
    return 0;
}

/* BookSide.truncate(depth), in place. */
static int
kr_truncate(PyObject *side, long depth)
{
    PyObject *lv = PyObject_GetAttr(side, a_live);
    if (lv == NULL)
        return -1;
    long live = PyLong_AsLong(lv);
    Py_DECREF(lv);
    if (live == -1 && PyErr_Occurred())
        return -1;
    long excess = live - depth;
    if (excess <= 0)
        return 0;
    PyObject *keys, *sizes, *prices;
    int rc = -1;
    if (side_parts(side, &keys, &sizes, &prices))
        goto done;
    Py_ssize_t i = 0, n = PyList_GET_SIZE(keys);
    while (excess > 0 && i < n) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        PyObject *sz = PyDict_GetItemWithError(sizes, k);
        if (sz == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, k);
            goto done;
        }
        if (sz != Py_None)
            excess--;
        if (PyDict_DelItem(sizes, k) || PyDict_DelItem(prices, k))
            goto done;
        i++;
    }
    if (PyList_SetSlice(keys, 0, i, NULL))
        goto done;
    PyObject *d = PyLong_FromLong(depth);
    if (d == NULL)
        goto done;
    rc = PyObject_SetAttr(side, a_live, d);
    Py_DECREF(d);
done:
    Py_XDECREF(keys);
    Py_XDECREF(sizes);
    Py_XDECREF(prices);
    return rc;
}

/* Append the tokens of a side's top 10 levels to buf; drops removed levels met on the way,
 * as BookSide.top does. 1 done, 0 decline, -1 error. */
static int
kr_top_tokens(PyObject *side, PyObject *ptok, PyObject *qtok, int pp, int qp, char *buf,
              Py_ssize_t cap, Py_ssize_t *len)
{
    PyObject *keys, *sizes, *prices;
    int rc = -1, got = 0;
    if (side_parts(side, &keys, &sizes, &prices))
        goto done;
    Py_ssize_t i = PyList_GET_SIZE(keys);
    while (i > 0 && got < 10) {
        i--;
        PyObject *k = PyList_GET_ITEM(keys, i);
        PyObject *sz = PyDict_GetItemWithError(sizes, k);
        PyObject *pr = sz == NULL ? NULL : PyDict_GetItemWithError(prices, k);
        if (pr == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, k);
            goto done;
        }
        if (sz == Py_None) {
            Py_INCREF(k);
            int e = PyList_SetSlice(keys, i, i + 1, NULL) || PyDict_DelItem(sizes, k) ||
                    PyDict_DelItem(prices, k);
            Py_DECREF(k);
            if (e)
                goto done;
            continue;
        }
        PyObject *toks[2] = {token_for(ptok, pr, pp), NULL};
        if (toks[0] != NULL)
            toks[1] = token_for(qtok, sz, qp);
        for (int j = 0; j < 2; j++) {
            if (toks[j] == NULL) {
                rc = PyErr_Occurred() ? -1 : 0;
                goto done;
            }
            Py_ssize_t n;
            const char *t = PyUnicode_AsUTF8AndSize(toks[j], &n);
            if (t == NULL)
                goto done;
            if (*len + n > cap) {
                rc = 0;
                goto done;
            }
            memcpy(buf + *len, t, n);
            *len += n;
        }
        got++;
    }
    rc = 1;
done:
    Py_XDECREF(keys);
    Py_XDECREF(sizes);
    Py_XDECREF(prices);
    return rc;
}

/* v1 "seconds.micros" -> ns; 0 when not that form (the Python path decides). */
static int
epoch_ns(PyObject *o, long long *out)
{
    Py_ssize_t n;
    const char *s = text_of(o, &n);
    if (s == NULL || n < 1)
        return 0;
    long long whole = 0, frac = 0;
    Py_ssize_t i = 0, w = 0, f = 0;
    for (; i < n && s[i] != '.'; i++, w++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        whole = whole * 10 + (s[i] - '0');
    }
    if (w < 1 || w > 10)
        return 0;
    if (i < n)
        for (i++; i < n; i++, f++) {
            if (s[i] < '0' || s[i] > '9' || f >= 9)
                return 0;
            frac = frac * 10 + (s[i] - '0');
        }
    for (Py_ssize_t k = f; k < 9; k++)
        frac *= 10;
    *out = whole * 1000000000LL + frac;
    return 1;
}

typedef struct {
    Py_ssize_t n, nbids;
    Change ch[KR_MAX_LEVELS];
    long long ts;
    int has_ts;
} KrLevels;

/* Append one level list (v1 [price, volume, time, ...] lists or v2 {"price","qty"}) to L;
 * 1 taken, 0 decline. v2 levels also checked against the inferred precision. */
static int
kr_levels(KrLevels *L, PyObject *raw, int buy, int v2, int ipp, int iqp)
{
    if (!PyList_CheckExact(raw))
        return 0;
    Py_ssize_t m = PyList_GET_SIZE(raw);
    for (Py_ssize_t i = 0; i < m; i++) {
        if (L->n >= KR_MAX_LEVELS)
            return 0;
        PyObject *lv = PyList_GET_ITEM(raw, i), *price, *size;
        if (v2) {
            if (!PyDict_CheckExact(lv))
                return 0;
            price = PyDict_GetItemWithError(lv, a_price);
            size = price == NULL ? NULL : PyDict_GetItemWithError(lv, k_qty);
        }
        else {
            if (!PyList_CheckExact(lv) || PyList_GET_SIZE(lv) < 3)
                return 0;
            price = PyList_GET_ITEM(lv, 0);
            size = PyList_GET_ITEM(lv, 1);
            long long ns;
            if (!epoch_ns(PyList_GET_ITEM(lv, 2), &ns))
                return 0;
            if (!L->has_ts || ns > L->ts)
                L->ts = ns;
            L->has_ts = 1;
        }
        int zero;
        if (price == NULL || size == NULL || !plain_decimal(price, &zero) ||
            !plain_decimal(size, &zero))
            return 0;
        if (v2) {
            Py_ssize_t pn, qn;
            const char *ps = text_of(price, &pn), *qs = text_of(size, &qn);
            if (places_of(ps, pn) > ipp || places_of(qs, qn) > iqp)
                return 0; /* the inferred precision grows: the Python path's */
        }
        Change *c = &L->ch[L->n++];
        c->price = price;
        c->size = size;
        c->zero = zero;
        c->buy = buy;
        c->key = NULL;
    }
    return 1;
}

/* The parsed book update of one frame: venue symbol, levels, expected checksum. */
typedef struct {
    PyObject *vs;
    KrLevels L;
    long long checksum;
    int has_checksum;
    long depth; /* v1: from the channel name; v2: 0 */
} KrBook;

/* v1 [id, {"a":..}, ({"b":..,"c":..},) "book-N", pair]; 1 taken, 0 decline. Levels are
 * gathered bids first then asks, so c->buy orders them as BookData's lists. */
static int
kr_parse_v1_book(PyObject *msg, KrBook *b, PyObject *entry)
{
    Py_ssize_t n = PyList_GET_SIZE(msg);
    PyObject *channel = PyList_GET_ITEM(msg, n - 2);
    Py_ssize_t cn;
    const char *cs = text_of(channel, &cn);
    if (cs == NULL || cn < 6 || cn > 10 || memcmp(cs, "book-", 5) != 0)
        return 0;
    long depth = 0;
    for (Py_ssize_t i = 5; i < cn; i++) {
        if (cs[i] < '0' || cs[i] > '9')
            return 0;
        depth = depth * 10 + (cs[i] - '0');
    }
    b->depth = depth;
    int ipp = 0, iqp = 0;
    (void)entry;
    b->has_checksum = 0;
    for (int buy = 1; buy >= 0; buy--) {
        for (Py_ssize_t p = 1; p < n - 2; p++) {
            PyObject *part = PyList_GET_ITEM(msg, p);
            if (!PyDict_CheckExact(part))
                return 0;
            if (PyDict_GetItemWithError(part, k_as) || PyDict_GetItemWithError(part, k_bs))
                return 0; /* a snapshot */
            PyObject *a = PyDict_GetItemWithError(part, k_a);
            PyObject *bb = PyDict_GetItemWithError(part, k_b);
            if (PyErr_Occurred() || (a == NULL && bb == NULL))
                return 0;
            PyObject *raw = buy ? bb : a;
            if (raw != NULL && !kr_levels(&b->L, raw, buy, 0, ipp, iqp))
                return 0;
            if (buy)
                continue;
            PyObject *c = PyDict_GetItemWithError(part, k_c);
            if (c == NULL || c == Py_None)
                continue;
            Py_ssize_t len;
            const char *s = text_of(c, &len);
            if (s == NULL || len < 1 || len > 10)
                return 0;
            long long v = 0;
            for (Py_ssize_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                    return 0;
                v = v * 10 + (s[i] - '0');
            }
            if (v >= (1LL << 32))
                return 0;
            b->checksum = v;
            b->has_checksum = 1;
        }
        if (buy)
            b->L.nbids = b->L.n;
    }
    return !PyErr_Occurred();
}

/* v2 {"channel":"book","type":"update","data":[{...}]} with one entry; 1 taken, 0 decline. */
static int
kr_parse_v2_book(PyObject *obj, PyObject *d, KrBook *b, int ipp, int iqp)
{
    PyObject *ts = PyDict_GetItemWithError(d, k_timestamp);
    if (ts == NULL || !rfc3339_ns(ts, &b->L.ts))
        return 0;
    b->L.has_ts = 1;
    b->depth = 0;
    PyObject *c = PyDict_GetItemWithError(d, k_checksum);
    b->has_checksum = 0;
    if (c != NULL && c != Py_None) {
        if (!PyLong_CheckExact(c))
            return 0;
        long long v = PyLong_AsLongLong(c);
        if (v == -1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return 0;
            PyErr_Clear();
            return 0;
        }
        if (v < 0 || v >= (1LL << 32))
            return 0;
        b->checksum = v;
        b->has_checksum = 1;
    }
    PyObject *bids = PyDict_GetItemWithError(d, a_bids);
    if (bids != NULL && bids != Py_None && !kr_levels(&b->L, bids, 1, 1, ipp, iqp))
        return 0;
    b->L.nbids = b->L.n;
    PyObject *asks = PyDict_GetItemWithError(d, a_asks);
    if (asks != NULL && asks != Py_None && !kr_levels(&b->L, asks, 0, 1, ipp, iqp))
        return 0;
    return !PyErr_Occurred();
}

static PyObject *
kr_level_lists(KrLevels *L, int buy)
{
    PyObject *l = PyList_New(0);
    for (Py_ssize_t i = 0; l != NULL && i < L->n; i++) {
        if (L->ch[i].buy != buy)
            continue;
        PyObject *lv = pair(L->ch[i].price, L->ch[i].size);
        if (lv == NULL || PyList_Append(l, lv))
            Py_CLEAR(l);
        Py_XDECREF(lv);
    }
    return l;
}

static PyObject *
kr_book_event(KrBook *b, PyObject *sym, PyObject *ts_local)
{
    PyObject *ev = event_from(tk_book_update, sym, b->vs, b->L.ts, ts_local);
    if (ev == NULL)
        return NULL;
    if (!b->L.has_ts && PyDict_SetItem(ev, k_ts_exchange, Py_None))
        goto fail;
    PyObject *bl = kr_level_lists(&b->L, 1), *al = bl ? kr_level_lists(&b->L, 0) : NULL;
    int e = al == NULL || PyDict_SetItem(ev, a_bids, bl) || PyDict_SetItem(ev, a_asks, al);
    Py_XDECREF(bl);
    Py_XDECREF(al);
    if (!e)
        return ev;
fail:
    Py_DECREF(ev);
    return NULL;
}

static void
kr_book_line(Line *w, KrBook *b, PyObject *sym, long long tsl)
{
    put_head_opt(w, "{\"type\":\"book_update\",\"exchange\":\"kraken\"", sym, b->vs, b->L.has_ts,
                 b->L.ts, tsl);
    for (int buy = 1; buy >= 0; buy--) {
        if (buy)
            PUT_LIT(w, ",\"bids\":[");
        else
            PUT_LIT(w, "],\"asks\":[");
        int first = 1;
        for (Py_ssize_t j = 0; j < b->L.n; j++) {
            if (b->L.ch[j].buy != buy)
                continue;
            if (!first)
                PUT_LIT(w, ",");
            first = 0;
            PUT_LIT(w, "[");
            put_text(w, b->L.ch[j].price);
            PUT_LIT(w, ",");
            put_text(w, b->L.ch[j].size);
            PUT_LIT(w, "]");
        }
    }
    PUT_LIT(w, "]}\n");
}

static long
as_long(PyObject *o, int *ok)
{
    long v = PyLong_Check(o) ? PyLong_AsLong(o) : -1;
    *ok = !(v == -1 && (PyErr_Occurred() || !PyLong_Check(o)));
    return v;
}

/* One book update, parsed into b (b->vs set by the caller); entry is its live tuple. */
static PyObject *
kr_book(KrakenFast *self, KrBook *b, PyObject *entry, PyObject *ts_local, PyObject *out,
        long long tsl)
{
    PyObject *sym = PyTuple_GET_ITEM(entry, 0), *book = PyTuple_GET_ITEM(entry, 1);
    PyObject *ptok = PyTuple_GET_ITEM(entry, 3), *qtok = PyTuple_GET_ITEM(entry, 4);
    int ok = 1, okk;
    long depth = as_long(PyTuple_GET_ITEM(entry, 2), &okk);
    ok &= okk;
    int pp = (int)as_long(PyTuple_GET_ITEM(entry, 5), &okk);
    ok &= okk;
    int qp = (int)as_long(PyTuple_GET_ITEM(entry, 6), &okk);
    ok &= okk;
    if (!ok || !PyDict_CheckExact(ptok) || !PyDict_CheckExact(qtok)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "KrakenFast: a live entry is not well formed");
        return NULL;
    }
    if (b->depth && b->depth != depth)
        return Py_None; /* a channel depth other than the book's: the Python path */
    if (b->has_checksum && PyDict_GET_SIZE(ptok) + PyDict_GET_SIZE(qtok) > KR_TOKEN_CACHE)
        return Py_None; /* the Python path starts the token cache afresh */
    if (out != NULL && !(json_safe(sym) && json_safe(b->vs)))
        out = NULL;
    PyObject *result = NULL, *cache = NULL, *scale0 = NULL, *scale1 = NULL, *bside = NULL,
             *aside = NULL;
    Py_ssize_t prepared = 0;
    scale0 = PyObject_GetAttrString(book, "scale");
    cache = PyObject_GetAttr(book, a_cache);
    if (scale0 == NULL || cache == NULL)
        goto done;
    if (!PyDict_CheckExact(cache)) {
        PyErr_SetString(PyExc_TypeError, "L2Book._cache is not a dict");
        goto done;
    }
    for (; prepared < b->L.n; prepared++) {
        Change *x = &b->L.ch[prepared];
        PyObject *key = PyDict_GetItemWithError(cache, x->price);
        if (key != NULL)
            Py_INCREF(key);
        else if (PyErr_Occurred())
            goto done;
        else {
            /* A price not keyed yet: L2Book.price_key keys it (and may rescale the book,
             * which changes no level); a price it refuses is the Python path's. */
            key = PyObject_CallMethodOneArg(book, a_price_key, x->price);
            if (key == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_ValueError))
                    goto done;
                PyErr_Clear();
                result = Py_None;
                goto done;
            }
            Py_DECREF(cache); /* a rescale replaces the cache */
            cache = PyObject_GetAttr(book, a_cache);
            if (cache == NULL || !PyDict_CheckExact(cache)) {
                Py_DECREF(key);
                if (cache != NULL)
                    PyErr_SetString(PyExc_TypeError, "L2Book._cache is not a dict");
                goto done;
            }
        }
        x->key = x->buy ? key : PyNumber_Negative(key);
        if (!x->buy)
            Py_DECREF(key);
        if (x->key == NULL)
            goto done;
    }
    scale1 = PyObject_GetAttrString(book, "scale");
    if (scale1 == NULL)
        goto done;
    int same = PyObject_RichCompareBool(scale0, scale1, Py_EQ);
    if (same < 0)
        goto done;
    if (!same) { /* keys made before the rescale are stale: the Python path redoes it */
        result = Py_None;
        goto done;
    }
    /* The frame is ours: apply (bids, then asks, as L2Book.apply), truncate, check. */
    bside = PyObject_GetAttr(book, a_bids);
    aside = PyObject_GetAttr(book, a_asks);
    if (bside == NULL || aside == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < b->L.n; i++)
        if (store(b->L.ch[i].buy ? bside : aside, &b->L.ch[i]))
            goto done;
    if (kr_truncate(bside, depth) || kr_truncate(aside, depth))
        goto done;
    int matched = 1;
    long long computed = 0;
    if (b->has_checksum) {
        char buf[8192];
        Py_ssize_t len = 0;
        int r = kr_top_tokens(aside, ptok, qtok, pp, qp, buf, sizeof buf, &len);
        if (r == 1)
            r = kr_top_tokens(bside, ptok, qtok, pp, qp, buf, sizeof buf, &len);
        if (r < 0)
            goto done;
        if (r == 0) {
            /* A token only Decimal can make, after the book changed: the Python
             * checksum of the same book decides, through the mismatch hook. */
            computed = -1;
            matched = 0;
        }
        else {
            computed = crc32_of(buf, len);
            matched = computed == b->checksum;
        }
    }
    if (matched && out != NULL) {
        Line w;
        w.n = 0;
        kr_book_line(&w, b, sym, tsl);
        if (append_line(&w, out) || bump(self->stats, c_book_updates) ||
            (b->has_checksum && bump(self->stats, c_checksum_ok)))
            goto done;
        result = Py_True;
        goto done;
    }
    PyObject *ev = kr_book_event(b, sym, ts_local);
    if (ev == NULL)
        goto done;
    if (matched) {
        if (bump(self->stats, c_book_updates) ||
            (b->has_checksum && bump(self->stats, c_checksum_ok))) {
            Py_DECREF(ev);
            goto done;
        }
        result = one_event_list(ev);
        goto done;
    }
    if (bump(self->stats, c_book_updates)) {
        Py_DECREF(ev);
        goto done;
    }
    result = PyObject_CallFunction(self->mismatch, "NLL", ev, b->checksum, computed);
    if (result != NULL && !PyList_CheckExact(result)) {
        Py_DECREF(result);
        result = NULL;
        PyErr_SetString(PyExc_TypeError, "KrakenFast: the mismatch hook must return a list");
    }
done:
    for (Py_ssize_t i = 0; i < prepared && i < b->L.n; i++)
        Py_CLEAR(b->L.ch[i].key);
    Py_XDECREF(bside);
    Py_XDECREF(aside);
    Py_XDECREF(cache);
    Py_XDECREF(scale0);
    Py_XDECREF(scale1);
    return result;
}

/* Trades: v1 [id, [[price, volume, time, side, ...], ...], "trade", pair] (no ids), v2
 * {"channel":"trade","type":"update","data":[...]} with ids in sequence. */
typedef struct {
    PyObject *price, *size, *side; /* side: v_buy / v_sell (the taker) */
    long long ts, tid;
} KrTrade;

static PyObject *
kr_trades(KrakenFast *self, PyObject *vs, PyObject *sym, KrTrade *t, Py_ssize_t n, int v2,
          PyObject *ts_local, PyObject *out, long long tsl)
{
    if (out != NULL && !(json_safe(sym) && json_safe(vs)))
        out = NULL;
    PyObject *events = NULL;
    if (out != NULL) {
        Py_ssize_t old = PyByteArray_GET_SIZE(out);
        for (Py_ssize_t i = 0; i < n; i++) {
            Line w;
            w.n = 0;
            put_head(&w, "{\"type\":\"trade\",\"exchange\":\"kraken\"", sym, vs, t[i].ts, tsl);
            PUT_LIT(&w, ",\"price\":");
            put_text(&w, t[i].price);
            PUT_LIT(&w, ",\"size\":");
            put_text(&w, t[i].size);
            PUT_LIT(&w, ",\"side\":");
            put_text(&w, t[i].side);
            if (v2) {
                PUT_LIT(&w, ",\"trade_id\":\"");
                put_ll(&w, t[i].tid);
                PUT_LIT(&w, "\"}\n");
            }
            else
                PUT_LIT(&w, ",\"trade_id\":null}\n");
            if (append_line(&w, out)) {
                if (PyByteArray_GET_SIZE(out) > old)
                    PyByteArray_Resize(out, old);
                return NULL;
            }
        }
    }
    else {
        events = PyList_New(n);
        for (Py_ssize_t i = 0; events != NULL && i < n; i++) {
            PyObject *ev = event_from(tk_trade, sym, vs, t[i].ts, ts_local);
            PyObject *tid = v2 ? PyUnicode_FromFormat("%lld", t[i].tid) : Py_NewRef(Py_None);
            if (ev == NULL || tid == NULL || PyDict_SetItem(ev, a_price, t[i].price) ||
                PyDict_SetItem(ev, a_size, t[i].size) || PyDict_SetItem(ev, a_side, t[i].side) ||
                PyDict_SetItem(ev, a_trade_id, tid)) {
                Py_XDECREF(ev);
                Py_XDECREF(tid);
                Py_CLEAR(events);
                break;
            }
            Py_DECREF(tid);
            PyList_SET_ITEM(events, i, ev);
        }
        if (events == NULL)
            return NULL;
    }
    /* The output is out: now the counters and the trade id. */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (bump(self->stats, c_trades))
            goto fail;
    }
    if (v2 && n > 0) {
        PyObject *next = PyLong_FromLongLong(t[n - 1].tid + 1);
        if (next == NULL || PyDict_SetItem(self->trade_next, sym, next)) {
            Py_XDECREF(next);
            goto fail;
        }
        Py_DECREF(next);
    }
    return out != NULL ? Py_True : events;
fail:
    Py_XDECREF(events);
    return NULL;
}

#define KR_MAX_TRADES 64

static PyObject *
kr_v1_trades(KrakenFast *self, PyObject *msg, PyObject *ts_local, PyObject *out, long long tsl)
{
    PyObject *vs = PyList_GET_ITEM(msg, 3), *raw = PyList_GET_ITEM(msg, 1);
    PyObject *sym = PyDict_GetItemWithError(self->symbols, vs);
    if (sym == NULL || !PyList_CheckExact(raw))
        return PyErr_Occurred() ? NULL : Py_None;
    Py_ssize_t n = PyList_GET_SIZE(raw);
    if (n < 1 || n > KR_MAX_TRADES)
        return Py_None;
    KrTrade t[KR_MAX_TRADES];
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyList_GET_ITEM(raw, i);
        int zero;
        if (!PyList_CheckExact(x) || PyList_GET_SIZE(x) < 4)
            return Py_None;
        t[i].price = PyList_GET_ITEM(x, 0);
        t[i].size = PyList_GET_ITEM(x, 1);
        if (!plain_decimal(t[i].price, &zero) || !plain_decimal(t[i].size, &zero) ||
            !epoch_ns(PyList_GET_ITEM(x, 2), &t[i].ts))
            return PyErr_Occurred() ? NULL : Py_None;
        Py_ssize_t sn;
        const char *s = text_of(PyList_GET_ITEM(x, 3), &sn);
        if (s == NULL || sn != 1 || (s[0] != 'b' && s[0] != 's'))
            return PyErr_Occurred() ? NULL : Py_None;
        t[i].side = s[0] == 'b' ? v_buy : v_sell;
        t[i].tid = 0;
    }
    Py_INCREF(sym);
    PyObject *r = kr_trades(self, vs, sym, t, n, 0, ts_local, out, tsl);
    Py_DECREF(sym);
    return r;
}

static PyObject *
kr_v2_trades(KrakenFast *self, PyObject *data, PyObject *ts_local, PyObject *out, long long tsl)
{
    Py_ssize_t n = PyList_GET_SIZE(data);
    if (n < 1 || n > KR_MAX_TRADES)
        return Py_None;
    KrTrade t[KR_MAX_TRADES];
    PyObject *vs = NULL, *sym = NULL;
    long long want = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PyList_GET_ITEM(data, i);
        if (!PyDict_CheckExact(d))
            return Py_None;
        PyObject *s = PyDict_GetItemWithError(d, k_symbol);
        if (s == NULL || !PyUnicode_CheckExact(s))
            return PyErr_Occurred() ? NULL : Py_None;
        if (vs == NULL) {
            vs = s;
            sym = PyDict_GetItemWithError(self->symbols, vs);
            if (sym == NULL)
                return PyErr_Occurred() ? NULL : Py_None;
            PyObject *w = PyDict_GetItemWithError(self->trade_next, sym);
            if (w == NULL || !PyLong_CheckExact(w))
                return PyErr_Occurred() ? NULL : Py_None;
            want = PyLong_AsLongLong(w);
            if (want == -1 && PyErr_Occurred()) {
                if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                    return NULL;
                PyErr_Clear();
                return Py_None;
            }
        }
        else {
            int eq = PyUnicode_Compare(s, vs);
            if (eq != 0)
                return PyErr_Occurred() ? NULL : Py_None; /* one symbol per frame here */
        }
        PyObject *side = PyDict_GetItemWithError(d, a_side);
        PyObject *tid = PyDict_GetItemWithError(d, a_trade_id);
        PyObject *ts = PyDict_GetItemWithError(d, k_timestamp);
        t[i].price = PyDict_GetItemWithError(d, a_price);
        t[i].size = PyDict_GetItemWithError(d, k_qty);
        if (PyErr_Occurred())
            return NULL;
        int zero;
        if (side == NULL || tid == NULL || ts == NULL || t[i].price == NULL ||
            t[i].size == NULL || !PyLong_CheckExact(tid) || !PyUnicode_CheckExact(side) ||
            !plain_decimal(t[i].price, &zero) || !plain_decimal(t[i].size, &zero) ||
            !rfc3339_ns(ts, &t[i].ts))
            return PyErr_Occurred() ? NULL : Py_None;
        if (PyUnicode_CompareWithASCIIString(side, "buy") == 0)
            t[i].side = v_buy;
        else if (PyUnicode_CompareWithASCIIString(side, "sell") == 0)
            t[i].side = v_sell;
        else
            return Py_None;
        t[i].tid = PyLong_AsLongLong(tid);
        if (t[i].tid == -1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return NULL;
            PyErr_Clear();
            return Py_None;
        }
        if (t[i].tid != want + i)
            return Py_None; /* a gap or a repeat: trade-id continuity is the Python path's */
    }
    Py_INCREF(sym);
    PyObject *r = kr_trades(self, vs, sym, t, n, 1, ts_local, out, tsl);
    Py_DECREF(sym);
    return r;
}

static PyObject *
kr_live_entry(KrakenFast *self, PyObject *vs)
{
    PyObject *e = PyDict_GetItemWithError(self->live, vs);
    if (e == NULL)
        return NULL;
    if (!PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 9) {
        PyErr_SetString(PyExc_TypeError, "KrakenFast: a live entry is not a 9-tuple");
        return NULL;
    }
    return e;
}

static PyObject *
kr_dispatch(KrakenFast *self, PyObject *msg, PyObject *ts_local, PyObject *out, long long tsl)
{
    KrBook b;
    memset(&b, 0, sizeof b);
    if (PyList_CheckExact(msg)) {
        Py_ssize_t n = PyList_GET_SIZE(msg);
        if (self->protocol != 1 || n < 4 || n > 5)
            return Py_None;
        PyObject *channel = PyList_GET_ITEM(msg, n - 2);
        if (!PyUnicode_CheckExact(channel))
            return Py_None;
        if (n == 4 && PyUnicode_CompareWithASCIIString(channel, "trade") == 0)
            return kr_v1_trades(self, msg, ts_local, out, tsl);
        b.vs = PyList_GET_ITEM(msg, n - 1);
        if (!PyUnicode_CheckExact(b.vs))
            return Py_None;
        PyObject *entry = kr_live_entry(self, b.vs);
        if (entry == NULL)
            return PyErr_Occurred() ? NULL : Py_None;
        Py_INCREF(entry);
        PyObject *r = kr_parse_v1_book(msg, &b, entry) ? kr_book(self, &b, entry, ts_local, out, tsl)
                                                       : (PyErr_Occurred() ? NULL : Py_None);
        Py_DECREF(entry);
        return r;
    }
    if (!PyDict_CheckExact(msg) || self->protocol != 2)
        return Py_None;
    PyObject *channel = PyDict_GetItemWithError(msg, k_channel);
    PyObject *type = PyDict_GetItemWithError(msg, a_type_key);
    PyObject *data = PyDict_GetItemWithError(msg, k_data);
    if (channel == NULL || type == NULL || data == NULL || !PyUnicode_CheckExact(channel) ||
        !PyUnicode_CheckExact(type) || !PyList_CheckExact(data))
        return PyErr_Occurred() ? NULL : Py_None;
    if (PyUnicode_CompareWithASCIIString(type, "update") != 0)
        return Py_None;
    if (PyUnicode_CompareWithASCIIString(channel, "trade") == 0)
        return kr_v2_trades(self, data, ts_local, out, tsl);
    if (PyUnicode_CompareWithASCIIString(channel, "book") != 0 || PyList_GET_SIZE(data) != 1)
        return Py_None;
    PyObject *d = PyList_GET_ITEM(data, 0);
    if (!PyDict_CheckExact(d))
        return Py_None;
    b.vs = PyDict_GetItemWithError(d, k_symbol);
    if (b.vs == NULL || !PyUnicode_CheckExact(b.vs))
        return PyErr_Occurred() ? NULL : Py_None;
    PyObject *entry = kr_live_entry(self, b.vs);
    if (entry == NULL)
        return PyErr_Occurred() ? NULL : Py_None;
    Py_INCREF(entry);
    int okk, ok = 1;
    int ipp = (int)as_long(PyTuple_GET_ITEM(entry, 7), &okk);
    ok &= okk;
    int iqp = (int)as_long(PyTuple_GET_ITEM(entry, 8), &okk);
    ok &= okk;
    PyObject *r;
    if (!ok)
        r = NULL;
    else
        r = kr_parse_v2_book(msg, d, &b, ipp, iqp) ? kr_book(self, &b, entry, ts_local, out, tsl)
                                                    : (PyErr_Occurred() ? NULL : Py_None);
    if (r == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "KrakenFast: a live entry is not well formed");
    Py_DECREF(entry);
    return r;
}

static PyObject *
kr_run(KrakenFast *self, PyObject *payload, PyObject *ts_local, PyObject *out, long long tsl)
{
    if (self->protocol == 0 || !PyBytes_CheckExact(payload) || !PyLong_CheckExact(ts_local) ||
        !all_ascii(payload)) {
        declined[K_KRAKEN]++;
        return Py_None;
    }
    PyObject *msg = PyObject_CallOneArg(self->decode, payload);
    if (msg == NULL) {
        if (!PyErr_ExceptionMatches(decode_error))
            return NULL;
        PyErr_Clear();
        declined[K_KRAKEN]++;
        return Py_None;
    }
    PyObject *res = kr_dispatch(self, msg, ts_local, out, tsl);
    Py_DECREF(msg);
    if (res == NULL)
        return NULL;
    if (PyErr_Occurred()) {
        if (res != Py_None && res != Py_True)
            Py_DECREF(res);
        return NULL;
    }
    if (res == Py_None)
        declined[K_KRAKEN]++;
    else
        handled[K_KRAKEN]++;
    return res;
}

static PyObject *
KrakenFast_feed(KrakenFast *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "feed(payload, ts_local) takes 2 arguments");
        return NULL;
    }
    PyObject *res = kr_run(self, args[0], args[1], NULL, 0);
    if (res != Py_None)
        return res;
    return PyObject_Vectorcall(self->fallback, args, 2, NULL);
}

static PyObject *
KrakenFast_feed_into(KrakenFast *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyByteArray_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, "feed_into(payload, ts_local, out: bytearray)");
        return NULL;
    }
    PyObject *out = args[2];
    long long tsl = 0;
    if (PyLong_CheckExact(args[1])) {
        tsl = PyLong_AsLongLong(args[1]);
        if (tsl == -1 && PyErr_Occurred()) { /* beyond 64 bits: events as dicts */
            if (!PyErr_ExceptionMatches(PyExc_OverflowError))
                return NULL;
            PyErr_Clear();
            out = NULL;
        }
    }
    PyObject *res = kr_run(self, args[0], args[1], out, tsl);
    if (res == NULL)
        return NULL;
    if (res == Py_True)
        Py_RETURN_NONE;
    if (res != Py_None)
        return res;
    return PyObject_Vectorcall(self->fallback, args, 2, NULL);
}

static int
KrakenFast_init(KrakenFast *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"decode", "live", "symbols", "stats", "trade_next", "mismatch",
                             "fallback", NULL};
    PyObject *o[7];
    if (decode_error == NULL) {
        PyObject *msgspec = PyImport_ImportModule("msgspec");
        if (msgspec == NULL)
            return -1;
        decode_error = PyObject_GetAttrString(msgspec, "DecodeError");
        Py_DECREF(msgspec);
        if (decode_error == NULL)
            return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!O!O!O!OO:KrakenFast", kwlist, &o[0],
                                     &PyDict_Type, &o[1], &PyDict_Type, &o[2], &PyDict_Type,
                                     &o[3], &PyDict_Type, &o[4], &o[5], &o[6]))
        return -1;
    PyObject **slots[] = {&self->decode, &self->live, &self->symbols, &self->stats,
                          &self->trade_next, &self->mismatch, &self->fallback};
    for (int i = 0; i < 7; i++) {
        Py_INCREF(o[i]);
        Py_XSETREF(*slots[i], o[i]);
    }
    self->protocol = 0;
    return 0;
}

static PyObject *
KrakenFast_set_protocol(KrakenFast *self, PyObject *v)
{
    long p = PyLong_AsLong(v);
    if (p == -1 && PyErr_Occurred())
        return NULL;
    self->protocol = p == 1 || p == 2 ? (int)p : 0;
    Py_RETURN_NONE;
}

static PyObject *
KrakenFast_set_trade_next(KrakenFast *self, PyObject *d)
{
    if (!PyDict_Check(d)) {
        PyErr_SetString(PyExc_TypeError, "trade_next must be a dict");
        return NULL;
    }
    Py_INCREF(d);
    Py_XSETREF(self->trade_next, d);
    Py_RETURN_NONE;
}

static int
KrakenFast_traverse(KrakenFast *self, visitproc visit, void *arg)
{
    Py_VISIT(self->decode);
    Py_VISIT(self->live);
    Py_VISIT(self->symbols);
    Py_VISIT(self->stats);
    Py_VISIT(self->trade_next);
    Py_VISIT(self->mismatch);
    Py_VISIT(self->fallback);
    return 0;
}

static int
KrakenFast_clear(KrakenFast *self)
{
    Py_CLEAR(self->decode);
    Py_CLEAR(self->live);
    Py_CLEAR(self->symbols);
    Py_CLEAR(self->stats);
    Py_CLEAR(self->trade_next);
    Py_CLEAR(self->mismatch);
    Py_CLEAR(self->fallback);
    return 0;
}

static void
KrakenFast_dealloc(KrakenFast *self)
{
    PyObject_GC_UnTrack(self);
    KrakenFast_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef KrakenFast_methods[] = {
    {"feed", (PyCFunction)(void (*)(void))KrakenFast_feed, METH_FASTCALL,
     "feed(payload, ts_local) -> list of events (the pure-Python feed's, for other frames)"},
    {"feed_into", (PyCFunction)(void (*)(void))KrakenFast_feed_into, METH_FASTCALL,
     "feed_into(payload, ts_local, out) -> None when the events were appended to the "
     "bytearray out as JSON lines, else the list of events (as feed returns them)."},
    {"set_protocol", (PyCFunction)KrakenFast_set_protocol, METH_O,
     "1 (v1 arrays) or 2 (v2 objects): the frames the connection may carry; 0: none here."},
    {"set_trade_next", (PyCFunction)KrakenFast_set_trade_next, METH_O,
     "Point trade-id continuity at another dict (connections of one venue share one)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject KrakenFastType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "alphapulse_cli._speedups.KrakenFast",
    .tp_basicsize = sizeof(KrakenFast),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The compiled book-update/trade path of one KrakenAdapter.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)KrakenFast_init,
    .tp_dealloc = (destructor)KrakenFast_dealloc,
    .tp_traverse = (traverseproc)KrakenFast_traverse,
    .tp_clear = (inquiry)KrakenFast_clear,
    .tp_methods = KrakenFast_methods,
};

/* ---- module --------------------------------------------------------------------------- */

static PyObject *
py_rfc3339_ns(PyObject *module, PyObject *text)
{
    long long ns;
    if (!rfc3339_ns(text, &ns))
        Py_RETURN_NONE;
    return PyLong_FromLongLong(ns);
}

/* ---- book levels as floats (the shm ring) ---------------------------------------------- */

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* float(text), exactly. The plain form with at most 15 significant digits and at most 22
 * decimals is an integer below 2**53 over a power of ten, both exact as doubles, so one
 * IEEE division rounds correctly (Clinger's fast path); anything else goes to float(). */
static int
text_to_double(PyObject *o, double *out)
{
    Py_ssize_t n;
    const char *s = text_of(o, &n);
    if (s != NULL && n > 0 && n <= 40) {
        unsigned long long mant = 0;
        int sig = 0, frac = -1, ok = 1, digits = 0;
        for (Py_ssize_t i = 0; i < n && ok; i++) {
            char c = s[i];
            if (c >= '0' && c <= '9') {
                digits++;
                if (frac >= 0)
                    frac++;
                if (sig || c != '0') {
                    sig++;
                    mant = mant * 10 + (unsigned long long)(c - '0');
                }
            }
            else if (c == '.' && frac < 0)
                frac = 0;
            else
                ok = 0;
        }
        if (frac < 0)
            frac = 0;
        if (ok && digits && sig <= 15 && frac <= 22) {
            *out = (double)mant / POW10[frac];
            return 0;
        }
    }
    declined[K_BOOK_LEVELS]++; /* counted per value: float() decides this one */
    PyObject *f = PyFloat_FromString(o);
    if (f == NULL)
        return -1;
    *out = PyFloat_AS_DOUBLE(f);
    Py_DECREF(f);
    return 0;
}

/* book_levels(side, n) -> (price, size, price, size, ...) floats, best first: what
 * [float(x) for lv in side.top(n) for x in lv] gives, with the same side effect (removed
 * levels met on the way are dropped from keys, sizes and prices), without the lists. */
static PyObject *
py_book_levels(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "book_levels(side, n)");
        return NULL;
    }
    Py_ssize_t want = PyLong_AsSsize_t(args[1]);
    if (want == -1 && PyErr_Occurred())
        return NULL;
    if (want > 256) {
        PyErr_SetString(PyExc_ValueError, "book_levels: at most 256 levels");
        return NULL;
    }
    double vals[512];
    Py_ssize_t got = 0;
    PyObject *result = NULL;
    PyObject *keys = PyObject_GetAttr(args[0], a_keys);
    PyObject *sizes = PyObject_GetAttr(args[0], a_sizes);
    PyObject *prices = PyObject_GetAttr(args[0], a_prices);
    if (keys == NULL || sizes == NULL || prices == NULL)
        goto done;
    if (!PyList_Check(keys) || !PyDict_Check(sizes) || !PyDict_Check(prices)) {
        PyErr_SetString(PyExc_TypeError, "book_levels: not a BookSide");
        goto done;
    }
    Py_ssize_t i = PyList_GET_SIZE(keys);
    while (i > 0 && got < want) {
        i--;
        PyObject *k = PyList_GET_ITEM(keys, i);
        Py_INCREF(k);
        PyObject *size = PyDict_GetItemWithError(sizes, k);
        PyObject *price = size == NULL ? NULL : PyDict_GetItemWithError(prices, k);
        if (price == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetObject(PyExc_KeyError, k);
            Py_DECREF(k);
            goto done;
        }
        if (size == Py_None) { /* a removed level: drop it for good, as top() does */
            int e = PyList_SetSlice(keys, i, i + 1, NULL) || PyDict_DelItem(sizes, k) ||
                    PyDict_DelItem(prices, k);
            Py_DECREF(k);
            if (e)
                goto done;
            continue;
        }
        Py_INCREF(price);
        Py_INCREF(size);
        Py_DECREF(k);
        int e = text_to_double(price, &vals[2 * got]) || text_to_double(size, &vals[2 * got + 1]);
        Py_DECREF(price);
        Py_DECREF(size);
        if (e)
            goto done;
        got++;
    }
    handled[K_BOOK_LEVELS]++;
    result = PyTuple_New(2 * got);
    for (Py_ssize_t j = 0; result != NULL && j < 2 * got; j++) {
        PyObject *f = PyFloat_FromDouble(vals[j]);
        if (f == NULL)
            Py_CLEAR(result);
        else
            PyTuple_SET_ITEM(result, j, f);
    }
done:
    Py_XDECREF(keys);
    Py_XDECREF(sizes);
    Py_XDECREF(prices);
    return result;
}

/* ---- .wslog records ------------------------------------------------------------------- */

static unsigned long long
le(const unsigned char *p, int n)
{
    unsigned long long v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* split_records(buf, pos, out, stop_ts, tag_limit, max_len) -> pos
 * Appends (ts, tag, payload) for each complete record from `pos` and returns where it
 * stopped: at the end of the last complete record, or at a record the Python reader must
 * look at itself (a preamble, whose magic reads as ts == stop_ts; a tag at or above
 * tag_limit; a length above max_len). The header layout is wslog/format.py's HEADER. */
static PyObject *
py_split_records(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyBytes_Check(args[0]) || !PyList_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "split_records(buf: bytes, pos, out: list, stop_ts, tag_limit, max_len)");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    unsigned long long stop_ts = PyLong_AsUnsignedLongLong(args[3]);
    long tag_limit = PyLong_AsLong(args[4]);
    Py_ssize_t max_len = PyLong_AsSsize_t(args[5]);
    if (PyErr_Occurred())
        return NULL;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t end = PyBytes_GET_SIZE(args[0]);
    PyObject *out = args[2];
    if (pos < 0)
        pos = end;
    while (end - pos >= 14) {
        const unsigned char *h = p + pos;
        unsigned long long ts = le(h, 8);
        long tag = (long)le(h + 8, 2);
        Py_ssize_t n = (Py_ssize_t)le(h + 10, 4);
        if (end - pos - 14 < n)
            break;
        if (ts == stop_ts || tag >= tag_limit || n > max_len) {
            declined[K_SPLIT_RECORDS]++;
            break;
        }
        PyObject *rec = PyTuple_New(3);
        if (rec == NULL)
            return NULL;
        PyObject *a = PyLong_FromUnsignedLongLong(ts), *b = PyLong_FromLong(tag),
                 *c = PyBytes_FromStringAndSize((const char *)h + 14, n);
        PyTuple_SET_ITEM(rec, 0, a);
        PyTuple_SET_ITEM(rec, 1, b);
        PyTuple_SET_ITEM(rec, 2, c);
        if (a == NULL || b == NULL || c == NULL || PyList_Append(out, rec)) {
            Py_DECREF(rec);
            return NULL;
        }
        Py_DECREF(rec);
        handled[K_SPLIT_RECORDS]++;
        pos += 14 + n;
    }
    return PyLong_FromSsize_t(pos);
}

/* counters() -> {kernel: {"handled": n, "declined": n}} */
static PyObject *
py_counters(PyObject *module, PyObject *unused)
{
    PyObject *d = PyDict_New();
    for (int k = 0; d != NULL && k < K_COUNT; k++) {
        PyObject *one_k = Py_BuildValue("{sKsK}", "handled", handled[k], "declined", declined[k]);
        if (one_k == NULL || PyDict_SetItemString(d, kernel_names[k], one_k))
            Py_CLEAR(d);
        Py_XDECREF(one_k);
    }
    return d;
}

static PyObject *
py_reset_counters(PyObject *module, PyObject *unused)
{
    memset(handled, 0, sizeof(handled));
    memset(declined, 0, sizeof(declined));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"counters", py_counters, METH_NOARGS,
     "counters() -> {kernel: {'handled': n, 'declined': n}}: frames (records, calls) each "
     "compiled kernel handled and handed back to its Python twin, in this process."},
    {"reset_counters", py_reset_counters, METH_NOARGS, "Set every kernel counter to 0."},
    {"book_levels", (PyCFunction)(void (*)(void))py_book_levels, METH_FASTCALL,
     "book_levels(side, n) -> the top n levels of a BookSide as floats, price and size "
     "alternating, best first (what float() makes of side.top(n))."},
    {"split_records", (PyCFunction)(void (*)(void))py_split_records, METH_FASTCALL,
     "split_records(buf, pos, out, stop_ts, tag_limit, max_len) -> pos: the complete "
     "ordinary records from pos, appended to out as (ts, tag, payload)."},
    {"rfc3339_ns", py_rfc3339_ns, METH_O,
     "'YYYY-MM-DDTHH:MM:SS[.f]Z' (1-9 fraction digits) -> epoch ns; None for any other "
     "text, which the Python path decides (for tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_speedups",
    .m_doc = "Compiled hot paths; every one has a pure-Python twin that stays the authority.",
    .m_size = -1,
    .m_methods = module_methods,
};

static int
intern_all(void)
{
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        {&a_product_id, "product_id"}, {&a_changes, "changes"}, {&a_time, "time"},
        {&a_price, "price"}, {&a_size, "size"}, {&a_side, "side"}, {&a_trade_id, "trade_id"},
        {&a_cache, "_cache"}, {&a_bids, "bids"}, {&a_asks, "asks"}, {&a_sizes, "sizes"},
        {&a_prices, "prices"}, {&a_live, "live"}, {&a_add_key, "add_key"}, {&a_keys, "keys"},
        {&k_type, "type"}, {&k_exchange, "exchange"}, {&k_symbol, "symbol"},
        {&k_venue_symbol, "venue_symbol"}, {&k_ts_exchange, "ts_exchange"},
        {&k_ts_local, "ts_local"},
        {&v_book_update, "book_update"}, {&v_trade, "trade"}, {&v_coinbase, "coinbase"},
        {&v_kraken, "kraken"}, {&a_price_key, "price_key"}, {&a_type_key, "type"},
        {&k_channel, "channel"}, {&k_data, "data"}, {&k_symbol_v2, "symbol"},
        {&k_checksum, "checksum"}, {&k_timestamp, "timestamp"}, {&k_qty, "qty"},
        {&k_a, "a"}, {&k_b, "b"}, {&k_c, "c"}, {&k_as, "as"}, {&k_bs, "bs"},
        {&v_book, "book"}, {&v_update, "update"}, {&c_checksum_ok, "checksum_ok"},
        {&v_buy, "buy"}, {&v_sell, "sell"}, {&c_book_updates, "book_updates"},
        {&c_trades, "trades"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL)
            return -1;
    }
    one = PyLong_FromLong(1);
    PyObject *book_tail[] = {a_bids, a_asks};
    PyObject *trade_tail[] = {a_price, a_size, a_side, a_trade_id};
    t_book_update = make_template(v_book_update, v_coinbase, book_tail, 2);
    t_trade = make_template(v_trade, v_coinbase, trade_tail, 4);
    tk_book_update = make_template(v_book_update, v_kraken, book_tail, 2);
    tk_trade = make_template(v_trade, v_kraken, trade_tail, 4);
    crc_init();
    return one == NULL || t_book_update == NULL || t_trade == NULL || tk_book_update == NULL ||
                   tk_trade == NULL
               ? -1
               : 0;
}

PyMODINIT_FUNC
PyInit__speedups(void)
{
    if (intern_all() || PyType_Ready(&CoinbaseFastType) < 0 ||
        PyType_Ready(&KrakenFastType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&speedups_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&CoinbaseFastType);
    if (PyModule_AddObject(m, "CoinbaseFast", (PyObject *)&CoinbaseFastType) < 0) {
        Py_DECREF(&CoinbaseFastType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&KrakenFastType);
    if (PyModule_AddObject(m, "KrakenFast", (PyObject *)&KrakenFastType) < 0) {
        Py_DECREF(&KrakenFastType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
