package proto

import (
	"bytes"
	"errors"
	"strconv"
)

// MaxKeyLen is memcached's key limit (the engine takes 255; clients and
// proxies are written against 250).
const MaxKeyLen = 250

// relativeLimit is memcached's boundary: an exptime above 30 days is an
// absolute Unix time, at or below it a number of seconds from now.
const relativeLimit = 60 * 60 * 24 * 30

// Op names a command.
type Op uint8

// The commands of the text protocol.
const (
	OpGet Op = iota + 1
	OpGets
	OpGat  // gat <exptime> <key>*
	OpGats // gats <exptime> <key>*
	OpSet
	OpAdd
	OpReplace
	OpAppend
	OpPrepend
	OpCAS
	OpDelete
	OpIncr
	OpDecr
	OpTouch
	OpFlushAll
	OpStats
	OpVersion
	OpVerbosity
	OpQuit
	OpMetaGet    // mg <key> <flag>*
	OpMetaSet    // ms <key> <datalen> <flag>*
	OpMetaDelete // md <key> <flag>*
	OpMetaArith  // ma <key> <flag>*
	OpMetaNoop   // mn
	OpShutdown   // shutdown [graceful]: Arg is the mode
	OpMemLimit   // cache_memlimit <MiB> [noreply]: Level is the limit
)

var opNames = [...]string{"", "get", "gets", "gat", "gats", "set", "add", "replace", "append", "prepend",
	"cas", "delete", "incr", "decr", "touch", "flush_all", "stats", "version", "verbosity", "quit",
	"mg", "ms", "md", "ma", "mn", "shutdown", "cache_memlimit"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// Storage reports whether o is followed by a data block.
func (o Op) Storage() bool { return o >= OpSet && o <= OpCAS || o == OpMetaSet }

// maxMetaTokens bounds a meta command's tokens after its name (the key,
// ms's data length, the flags): memcached 1.6.18 refuses a command of
// more than MFLAG_MAX_OPT_LENGTH (20) tokens, counting the name and the
// empty one its tokenizer ends with.
const maxMetaTokens = 18

// Errors of Parse. The server answers ErrUnknown with "ERROR" and the others
// with "CLIENT_ERROR <message>".
var (
	ErrUnknown    = errors.New("unknown command")
	ErrFormat     = errors.New("bad command line format")
	ErrKeyTooLong = errors.New("bad command line format") // memcached's words for it
	ErrDelta      = errors.New("invalid numeric delta argument")
	ErrExptime    = errors.New("invalid exptime argument")
	// ErrDeleteUsage is memcached's answer to a delete with arguments it
	// does not take.
	ErrDeleteUsage = errors.New("bad command line format.  Usage: delete <key> [noreply]")
	ErrTooLarge    = errors.New("object too large for cache")
	// ErrMetaFlags and ErrMetaGetFlags are memcached's answers to a meta
	// command with too many flags (mg's words differ).
	ErrMetaFlags    = errors.New("options flags too long")
	ErrMetaGetFlags = errors.New("options flags are too long")
)

// Request is one parsed command line. Slices alias the line.
type Request struct {
	Op      Op
	Key     []byte   // the key of single-key commands
	Keys    [][]byte // the keys of get/gets/gat/gats
	Flags   uint32
	Exptime int64  // as sent: see Expiry
	Bytes   int    // length of the data block of storage commands
	CAS     uint64 // cas unique of cas
	Delta   uint64 // incr/decr amount
	Delay   int64  // flush_all delay in seconds
	Level   int64  // verbosity level
	Arg     []byte // stats sub-command (empty: general stats); shutdown's mode
	Arg2    []byte // the stats sub-command's argument ("stats detail on")
	Noreply bool
	// Meta holds a meta command's flags in order, each a flag letter
	// followed by its token ("v", "T30", "Oabc"); it aliases the key
	// scratch. The server interprets them.
	Meta [][]byte
}

// Parse parses one request line (without its "\r\n" or "\n"). keys is
// scratch for the key list of retrieval commands (reused when large
// enough); maxBytes bounds the data block of storage commands: a larger
// one fails with ErrTooLarge after the rest of the line parsed, so the
// server can still skip the block it announced (req.Bytes is set).
func Parse(line []byte, keys [][]byte, maxBytes int) (Request, error) {
	var tok [8][]byte
	cmd, rest := next(line)
	var r Request
	switch string(cmd) {
	case "get":
		r.Op = OpGet
	case "gets":
		r.Op = OpGets
	case "gat":
		r.Op = OpGat
	case "gats":
		r.Op = OpGats
	case "set":
		r.Op = OpSet
	case "add":
		r.Op = OpAdd
	case "replace":
		r.Op = OpReplace
	case "append":
		r.Op = OpAppend
	case "prepend":
		r.Op = OpPrepend
	case "cas":
		r.Op = OpCAS
	case "delete":
		r.Op = OpDelete
	case "incr":
		r.Op = OpIncr
	case "decr":
		r.Op = OpDecr
	case "touch":
		r.Op = OpTouch
	case "flush_all":
		r.Op = OpFlushAll
	case "stats":
		r.Op = OpStats
	case "version":
		r.Op = OpVersion
	case "verbosity":
		r.Op = OpVerbosity
	case "quit":
		r.Op = OpQuit
	case "mg":
		r.Op = OpMetaGet
	case "ms":
		r.Op = OpMetaSet
	case "md":
		r.Op = OpMetaDelete
	case "ma":
		r.Op = OpMetaArith
	case "mn":
		r.Op = OpMetaNoop
		return r, nil
	case "shutdown":
		// memcached refuses any shutdown when not enabled before it looks
		// at the mode, so the server checks the mode.
		r.Op = OpShutdown
		all := rest
		r.Arg, rest = next(rest)
		if t, _ := next(rest); t != nil {
			r.Arg = bytes.TrimLeft(all, " ") // two tokens are an invalid mode too
		}
		return r, nil
	case "cache_memlimit":
		r.Op = OpMemLimit
	default:
		return r, ErrUnknown
	}

	switch r.Op {
	case OpGet, OpGets, OpGat, OpGats:
		if r.Op == OpGat || r.Op == OpGats {
			var t []byte
			t, rest = next(rest)
			var ok bool
			if t == nil {
				return r, ErrUnknown
			}
			if r.Exptime, ok = parseInt(t); !ok {
				return r, ErrExptime
			}
		}
		keys = keys[:0]
		for {
			var k []byte
			k, rest = next(rest)
			if k == nil {
				break
			}
			if err := checkKey(k); err != nil {
				return r, err
			}
			keys = append(keys, k)
		}
		r.Keys = keys
		if len(keys) == 0 && (r.Op == OpGet || r.Op == OpGets) {
			return r, ErrUnknown // memcached answers a bare "get" with ERROR, a "gat <exptime>" with END
		}
		return r, nil
	case OpMetaGet, OpMetaSet, OpMetaDelete, OpMetaArith:
		return parseMeta(r, rest, keys, maxBytes)
	case OpStats:
		// "stats <group> [<arg>]"; memcached answers "stats noreply" like
		// an unknown group and ignores tokens its group does not take
		// ("stats reset noreply" resets and answers RESET).
		r.Arg, rest = next(rest)
		r.Arg2, _ = next(rest)
		return r, nil
	}

	n := 0
	for n < len(tok) {
		t, r2 := next(rest)
		if t == nil {
			break
		}
		tok[n], rest = t, r2
		n++
	}
	if t, _ := next(rest); t != nil {
		return r, ErrUnknown // more tokens than any command takes
	}
	// Like memcached's dispatcher, a command with a number of arguments
	// none of its forms takes is unknown ("ERROR"); in its longest form
	// the last argument is noreply, or ignored if it is anything else.
	lo, hi := 0, len(tok)
	switch r.Op {
	case OpSet, OpAdd, OpReplace, OpAppend, OpPrepend:
		lo, hi = 4, 5
	case OpCAS:
		lo, hi = 5, 6
	case OpIncr, OpDecr, OpTouch:
		lo, hi = 2, 3
	case OpDelete:
		lo, hi = 1, 3
	case OpFlushAll:
		lo, hi = 0, 2
	case OpVerbosity, OpMemLimit:
		lo, hi = 1, 2
	}
	if n < lo || n > hi {
		return r, ErrUnknown
	}
	args := tok[:n]
	if n > 0 && string(args[n-1]) == "noreply" {
		r.Noreply = true
	}

	ok := true
	switch r.Op {
	case OpSet, OpAdd, OpReplace, OpAppend, OpPrepend, OpCAS:
		if err := checkKey(args[0]); err != nil {
			return r, err
		}
		r.Key = args[0]
		var f uint64
		var b int64
		f, ok1 := ParseUint(args[1])
		r.Exptime, ok = parseInt(args[2])
		b, ok2 := parseInt(args[3])
		if !ok || !ok1 || !ok2 || f > 1<<32-1 || b < 0 || b > 1<<31-3 {
			return r, ErrFormat
		}
		r.Flags, r.Bytes = uint32(f), int(b)
		if r.Op == OpCAS {
			if r.CAS, ok = ParseUint(args[4]); !ok {
				return r, ErrFormat
			}
		}
		if r.Bytes > maxBytes {
			return r, ErrTooLarge
		}
	case OpDelete:
		// memcached still accepts the legacy "delete <key> 0".
		switch {
		case n == 2 && (string(args[1]) == "0" || r.Noreply):
		case n == 3 && string(args[1]) == "0" && r.Noreply:
		case n != 1:
			return r, ErrDeleteUsage
		}
		if err := checkKey(args[0]); err != nil {
			return r, err
		}
		r.Key = args[0]
	case OpIncr, OpDecr:
		if err := checkKey(args[0]); err != nil {
			return r, err
		}
		r.Key = args[0]
		if r.Delta, ok = ParseUint(args[1]); !ok {
			return r, ErrDelta
		}
	case OpTouch:
		if err := checkKey(args[0]); err != nil {
			return r, err
		}
		r.Key = args[0]
		if r.Exptime, ok = parseInt(args[1]); !ok {
			return r, ErrExptime
		}
	case OpFlushAll:
		// A delay is the first argument unless that is noreply; one at or
		// below 0 flushes now, as memcached's does.
		if n > 0 && !(n == 1 && r.Noreply) {
			if r.Delay, ok = parseInt(args[0]); !ok {
				return r, ErrExptime
			}
			r.Delay = max(r.Delay, 0)
		}
	case OpVerbosity:
		// "verbosity noreply" is silent: memcached's complaint about the
		// level is hidden by the noreply it misread as one.
		if r.Level, ok = parseInt(args[0]); !ok && !(n == 1 && r.Noreply) {
			return r, ErrFormat
		}
	case OpMemLimit:
		// memcached answers a limit that is not a number with ERROR.
		var v uint64
		if v, ok = ParseUint(args[0]); !ok || v > 1<<40 {
			return r, ErrUnknown
		}
		r.Level = int64(v)
	case OpVersion, OpQuit:
		// memcached 1.6 ignores their arguments; neither has a silent form.
		r.Noreply = false
	}
	return r, nil
}

// parseMeta parses the rest of a meta command: the key, the data length
// of ms, then flags.
func parseMeta(r Request, rest []byte, flags [][]byte, maxBytes int) (Request, error) {
	var k []byte
	k, rest = next(rest)
	if k == nil {
		return r, ErrUnknown // as memcached's dispatcher answers a meta command without a key
	}
	if err := checkKey(k); err != nil {
		return r, err
	}
	r.Key = k
	// As memcached, the count is checked before any token is parsed.
	tokens := 1
	for t, more := next(rest); t != nil; t, more = next(more) {
		if tokens++; tokens > maxMetaTokens {
			if r.Op == OpMetaGet {
				return r, ErrMetaGetFlags
			}
			return r, ErrMetaFlags
		}
	}
	if r.Op == OpMetaSet {
		var n []byte
		n, rest = next(rest)
		b, ok := parseInt(n)
		if !ok || b < 0 || b > 1<<31-3 {
			return r, ErrFormat
		}
		r.Bytes = int(b)
	}
	flags = flags[:0]
	for {
		var f []byte
		f, rest = next(rest)
		if f == nil {
			break
		}
		flags = append(flags, f)
	}
	r.Meta = flags
	if r.Op == OpMetaSet && r.Bytes > maxBytes {
		return r, ErrTooLarge
	}
	return r, nil
}

// ParseInt parses an optionally negative decimal fitting in 63 bits (a
// meta flag's token).
func ParseInt(b []byte) (int64, bool) { return parseInt(b) }

// next returns the first space-separated token of b and what follows it;
// nil when b holds only spaces.
func next(b []byte) (tok, rest []byte) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	if i == len(b) {
		return nil, nil
	}
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	return b[i:j:j], b[j:]
}

// checkKey checks a key as memcached's protocol defines it: at most
// MaxKeyLen bytes, no control characters (a "\r" in a key would come back
// inside reply lines that clients split at "\r\n").
func checkKey(b []byte) error {
	if len(b) > MaxKeyLen {
		return ErrKeyTooLong
	}
	for _, c := range b {
		if c < ' ' || c == 0x7f {
			return ErrFormat
		}
	}
	return nil
}

// ParseUint parses an unsigned decimal that fits in 64 bits: digits only,
// no sign or space (memcached's numeric arguments).
func ParseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseInt accepts an optionally negative decimal fitting in 63 bits.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := ParseUint(b)
	if !ok || u > 1<<63-1 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// Expiry classifies an exptime as memcached does, at Unix time now
// (seconds): 0 never expires; a negative value, or an absolute time at or
// before now, is already expired; up to 30 days is relative to now; more
// is an absolute Unix time. It returns the lifetime left in seconds
// (0 with expired false = never expires).
func Expiry(exptime, now int64) (seconds int64, expired bool) {
	switch {
	case exptime == 0:
		return 0, false
	case exptime < 0:
		return 0, true
	case exptime <= relativeLimit:
		return exptime, false
	case exptime <= now:
		return 0, true
	}
	return exptime - now, false
}
