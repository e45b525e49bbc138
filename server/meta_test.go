package server

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMetaProtocol(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial()
	runSteps(t, c, []step{
		{"mn\r\n", "MN\r\n"},
		{"mg a v\r\n", "EN\r\n"},
		{"mg a v q\r\nmn\r\n", "MN\r\n"},
		{"ms a 5 F7 T0\r\nhello\r\n", "HD\r\n"},
		{"mg a v f s k Oxyz t\r\n", "VA 5 f7 s5 ka Oxyz t-1\r\nhello\r\n"},
		{"mg a\r\n", "HD\r\n"},
		{"mg a k f\r\n", "HD ka f7\r\n"},
		{"ms a 2 ME\r\nxx\r\n", "NS\r\n"},
		{"ms b 2 MR\r\nxx\r\n", "NS\r\n"},
		{"ms a 1 MA q\r\n!\r\nms a 1 MP\r\n<\r\n", "HD\r\n"},
		{"mg a v\r\n", "VA 7\r\n<hello!\r\n"},
		{"ms t 1 T100\r\nx\r\nmg t t v\r\n", "HD\r\nVA 1 t100\r\nx\r\n"},
		{"mg t T-1 v\r\nmg t v\r\n", "VA 1\r\nx\r\nEN\r\n"},
		{"ms t 1\r\nx\r\nmg t T-1 t\r\n", "HD\r\nHD t0\r\n"}, // expired by the touch: 0 s left
		// q hides HD, not NF (as memcached's); EN, NF carry k and O.
		{"md a q\r\nmd a q\r\nmd a\r\n", "NF\r\nNF\r\n"},
		{"md nope Ok\r\n", "NF Ok\r\n"},
		{"mg nope v k Ok\r\n", "EN knope Ok\r\n"},
		{"ma nope q k\r\n", "NF knope\r\n"},
		{"ma n\r\n", "NF\r\n"},
		{"ma n N0 J10 v\r\n", "VA 2\r\n10\r\n"},
		{"ma n v\r\nma n MD D5 v\r\nma n q\r\nmg n v\r\n", "VA 2\r\n11\r\nVA 1\r\n6\r\nVA 1\r\n7\r\n"},
		// q hides the change of an existing counter, value too, not its creation.
		{"ma n q v\r\nma m q v N0 J3\r\nmg n v\r\n", "VA 1\r\n3\r\nVA 1\r\n8\r\n"},
		{"ms s 3\r\nabc\r\nma s\r\n", "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
		{"mg a zz\r\n", "CLIENT_ERROR invalid flag\r\n"},
		{"ms a 1 MX\r\nx\r\n", "CLIENT_ERROR invalid mode for ms M token\r\n"},
		// memcached's flag checks: any command takes every flag memcached
		// knows and ignores those that do not apply; a repeated flag, a
		// malformed token or a long opaque is an error, which md and ma
		// word alike.
		{"mg a D5 J5 C5 F5 MS P L\r\nmd zz v f D5\r\n", "EN\r\nNF\r\n"},
		{"mg a v v\r\nms a 1 q q\r\nx\r\n", "CLIENT_ERROR duplicate flag\r\nCLIENT_ERROR duplicate flag\r\n"},
		{"mg a Tx\r\nms a 1 Fx\r\nx\r\nmg a MSS\r\n", "CLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR bad command line format\r\nCLIENT_ERROR incorrect length for M token\r\n"},
		{"mg a O" + strings.Repeat("9", 32) + "\r\n", "CLIENT_ERROR opaque token too long\r\n"},
		{"md a Cx\r\nma a D1 D2\r\nma a MX\r\n", "CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid mode for ma M token\r\n"},
		{"mg a N30\r\nms a 1 I\r\nx\r\nmd a I\r\n", "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR invalid flag\r\nCLIENT_ERROR invalid flag\r\n"},
		{"ms a 2000000 T0\r\n" + strings.Repeat("x", 2000000) + "\r\n", "SERVER_ERROR object too large for cache\r\n"},
	})
	// Compare-and-set through ms C, with the token mg c returned.
	runSteps(t, c, []step{{"ms a 1\r\nz\r\n", "HD\r\n"}})
	c.send("mg a c\r\n")
	m := regexp.MustCompile(`^HD c(\d+)\r\n$`).FindStringSubmatch(c.line())
	if m == nil {
		t.Fatal("mg c: no CAS token")
	}
	cas, _ := strconv.ParseUint(m[1], 10, 64)
	runSteps(t, c, []step{
		{fmt.Sprintf("ms a 1 C%d\r\n1\r\n", cas+1), "EX\r\n"},
		{fmt.Sprintf("ms a 1 C%d\r\n1\r\n", cas), "HD\r\n"},
		{"mg a v\r\n", "VA 1\r\n1\r\n"},
		{fmt.Sprintf("ms zz 1 C%d\r\n1\r\n", cas), "NF\r\n"},
	})
	// md, ma and ms in append mode take the token too.
	c.send("mg a c\r\n")
	m = regexp.MustCompile(`^HD c(\d+)\r\n$`).FindStringSubmatch(c.line())
	if m == nil {
		t.Fatal("mg c: no CAS token")
	}
	cas, _ = strconv.ParseUint(m[1], 10, 64)
	runSteps(t, c, []step{
		{fmt.Sprintf("ms a 1 MA C%d\r\n2\r\n", cas+1), "EX\r\n"},
		{fmt.Sprintf("md a C%d\r\n", cas+1), "EX\r\n"},
		{fmt.Sprintf("ma a C%d v\r\n", cas+1), "EX\r\n"},
		{"mg a v\r\n", "VA 1\r\n1\r\n"},
		{fmt.Sprintf("ma a C%d v\r\n", cas), "VA 1\r\n2\r\n"},
	})
	c.send("mg a c\r\n")
	m = regexp.MustCompile(`^HD c(\d+)\r\n$`).FindStringSubmatch(c.line())
	cas, _ = strconv.ParseUint(m[1], 10, 64)
	runSteps(t, c, []step{
		{fmt.Sprintf("md a q C%d\r\n", cas), ""},
		{"mg a v\r\n", "EN\r\n"},
		{"md a C1\r\n", "NF\r\n"},
		// As memcached's: an add ignores the token; c is 0 when nothing
		// was stored; C0 matches no item and is no condition for append.
		{"ms a 1 ME C5\r\nx\r\n", "HD\r\n"},
		{"ms a 1 ME C5 c\r\ny\r\n", "NS c0\r\n"},
		{"ms a 1 C0\r\ny\r\nmd a C0\r\nms b 1 C0\r\ny\r\n", "EX\r\nEX\r\nNF\r\n"},
		{"ms a 1 MA C0\r\ny\r\nmg a v\r\n", "HD\r\nVA 2\r\nxy\r\n"},
	})
}

// TestMetaBase64Keys: with b the key is base64, so keys may hold any byte;
// k returns it as sent.
func TestMetaBase64Keys(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial()
	runSteps(t, c, []step{
		{"ms Zm9v 3 b\r\nbar\r\n", "HD\r\n"}, // foo
		{"get foo\r\n", "VALUE foo 0 3\r\nbar\r\nEND\r\n"},
		{"mg Zm9v b k v u\r\n", "VA 3 kZm9v b\r\nbar\r\n"},
		{"ms AAEgDQ== 1 b\r\nx\r\n", "HD\r\n"}, // "\x00\x01 \r"
		{"mg AAEgDQ== b v\r\n", "VA 1\r\nx\r\n"},
		{"ma bg== b N0 J7 v\r\n", "VA 1\r\n7\r\n"}, // n
		{"md bg== b k\r\n", "HD kbg== b\r\n"},
		{"mg bg== b v\r\n", "EN\r\n"},
		{"mg !!!! b v\r\n", "CLIENT_ERROR error decoding key\r\n"},
		{"md !!!! b\r\nma !!!! b\r\n", "CLIENT_ERROR invalid or duplicate flag\r\nCLIENT_ERROR invalid or duplicate flag\r\n"}, // memcached's words
		{"mg Zm9v h\r\n", "CLIENT_ERROR invalid flag\r\n"},
	})
}

// An ms whose data block arrives after its line (a second packet) answers
// with the flags of its line: reading the block refills the connection's
// read buffer, where the line's flag tokens were, so they must be kept
// apart first. (It answered "HD" with the k, O and c flags lost or
// garbled when the block overwrote them.) Each I/O model.
func TestMetaSetBlockInALaterPacket(t *testing.T) {
	for _, loops := range []int{-1, 1} {
		ts := startServer(t, Config{EventLoops: loops})
		c := ts.dial()
		value := strings.Repeat("v", 64) // longer than the line, so that it lands over it
		c.send(fmt.Sprintf("ms a2V5 %d k O1234 c T0 F7 b\r\n", len(value)))
		time.Sleep(20 * time.Millisecond) // the server reads the line alone
		c.send(value + "\r\n")
		got := c.line()
		if want := regexp.MustCompile(`^HD ka2V5 b O1234 c[1-9]\d*\r\n$`); !want.MatchString(got) {
			t.Errorf("event loops %d: ms with the block in a later packet replied %q, want %v", loops, got, want)
		}
		c.send("mg a2V5 b v f\r\n")
		got = c.line()
		if strings.HasPrefix(got, "VA ") {
			got += c.line()
		}
		if want := "VA 64 f7\r\n" + value + "\r\n"; got != want {
			t.Errorf("event loops %d: mg after it: %q, want %q (stored under the key it names in base64)", loops, got, want)
		}
	}
}

// TestMetaFlagsTooLong: memcached 1.6.18 refuses a meta command of more
// than 19 tokens (MFLAG_MAX_OPT_LENGTH, counting its end): mg, md and ma
// with 18 flags or more, ms with 17 or more (its data length is a token),
// each with its own words, and an ms so refused does not skip its data
// block (read as the next command: ERROR). segcached took up to 24 flags,
// and answered more with "bad command line format".
func TestMetaFlagsTooLong(t *testing.T) {
	flags := func(n int) string { return strings.Repeat(" O1", n) }
	ts := startServer(t, Config{})
	runSteps(t, ts.dial(), []step{
		{"mg a" + flags(17) + "\r\n", "CLIENT_ERROR duplicate flag\r\n"},
		{"mg a" + flags(18) + "\r\n", "CLIENT_ERROR options flags are too long\r\n"},
		{"mg a" + flags(30) + "\r\n", "CLIENT_ERROR options flags are too long\r\n"},
		{"md a" + flags(17) + "\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"},
		{"md a" + flags(18) + "\r\n", "CLIENT_ERROR options flags too long\r\n"},
		{"ma a" + flags(18) + "\r\n", "CLIENT_ERROR options flags too long\r\n"},
		{"ms a 2" + flags(16) + "\r\nxx\r\n", "CLIENT_ERROR duplicate flag\r\n"},
		{"ms a 2" + flags(17) + "\r\nxx\r\n", "CLIENT_ERROR options flags too long\r\nERROR\r\n"},
		{"ms a x" + flags(17) + "\r\n", "CLIENT_ERROR options flags too long\r\n"}, // before the length
		{"ms a 2000000" + flags(17) + "\r\n", "CLIENT_ERROR options flags too long\r\n"},
		// Distinct flags, each valid alone: 17 are served, 18 are not.
		{"mg a v k c f s t q u O1 P L h0 l0 b0 D1 J1 C1 T0\r\n", "CLIENT_ERROR options flags are too long\r\n"},
		{"mg a v k c f s t u O1 P L D1 J1 C1 F1 MS T0 Y\r\n", "CLIENT_ERROR invalid flag\r\n"},
	})
}
