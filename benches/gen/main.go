// Command gen creates N real goroutines in mixed blocking states and writes the
// runtime's full traceback of all of them (runtime.Stack(buf, true), the same text
// as a SIGQUIT dump or ?debug=2 without the 64 MB cap) to a file. It feeds
// godeadlock's benchmark: ~100 distinct stacks, depths 5 to 30 frames, and a
// keyed-limiter deadlock among them.
//
//	go run . -n 1000000 -o dump.txt
//
// -shape picks other shapes that stress the analysis (issue 12, "Cost"):
//
//	mutexes    many distinct mutexes (one per 4 goroutines), each held by main
//	           and waited on by a few goroutines
//	unique     every goroutine on its own stack (a path of two functions chosen
//	           by the bits of its index)
//	deep       recursion of varying depth (8 to 72 frames of one function)
//	addresses  every goroutine mentions a different address (its own object, in
//	           the arguments of its frames) and blocks on a channel
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"time"
)

// limiter is a per-key counting limiter on sync.Cond (limit 1 per key).
type limiter struct {
	mu    sync.Mutex
	cond  *sync.Cond
	count map[string]int
}

//go:noinline
func (l *limiter) Acquire(key string) {
	l.mu.Lock()
	for l.count[key] >= 1 {
		l.cond.Wait()
	}
	l.count[key]++
	l.mu.Unlock()
}

//go:noinline
func (l *limiter) Release(key string) {
	l.mu.Lock()
	l.count[key]--
	l.mu.Unlock()
	l.cond.Broadcast()
}

type world struct {
	mu      sync.Mutex
	rw      sync.RWMutex
	cond    *sync.Cond
	condMu  sync.Mutex
	wg      sync.WaitGroup
	never   chan int
	full    chan int
	lim     *limiter
	conn    net.Conn
	started sync.WaitGroup
}

// The leaves: one per blocking state.

//go:noinline
func leafMutex(w *world) { w.started.Done(); w.mu.Lock() }

//go:noinline
func leafRLock(w *world) { w.started.Done(); w.rw.RLock() }

//go:noinline
func leafWLock(w *world) { w.started.Done(); w.rw.Lock() }

//go:noinline
func leafCond(w *world) {
	w.condMu.Lock()
	w.started.Done()
	w.cond.Wait()
}

//go:noinline
func leafWaitGroup(w *world) { w.started.Done(); w.wg.Wait() }

//go:noinline
func leafRecv(w *world) { w.started.Done(); <-w.never }

//go:noinline
func leafSend(w *world) { w.started.Done(); w.full <- 1 }

//go:noinline
func leafSelect(w *world) {
	w.started.Done()
	select {
	case <-w.never:
	case w.full <- 2:
	}
}

//go:noinline
func leafSleep(w *world) { w.started.Done(); time.Sleep(time.Hour) }

//go:noinline
func leafIO(w *world) {
	w.started.Done()
	buf := make([]byte, 1)
	w.conn.Read(buf)
}

//go:noinline
func leafLimiter(w *world) {
	w.started.Done()
	w.lim.Acquire("hot")
	defer w.lim.Release("hot")
}

var leaves = []func(*world){leafMutex, leafRLock, leafWLock, leafCond, leafWaitGroup, leafRecv, leafSend, leafSelect, leafSleep, leafIO, leafLimiter}

// Nesting through distinct functions gives distinct, deep stacks.

//go:noinline
func nestA(d int, w *world, leaf func(*world)) {
	if d <= 0 {
		leaf(w)
		return
	}
	nestB(d-1, w, leaf)
}

//go:noinline
func nestB(d int, w *world, leaf func(*world)) {
	if d <= 0 {
		leaf(w)
		return
	}
	nestC(d-1, w, leaf)
}

//go:noinline
func nestC(d int, w *world, leaf func(*world)) {
	if d <= 0 {
		leaf(w)
		return
	}
	nestA(d-1, w, leaf)
}

// ---- the stress shapes ----

type object struct {
	mu  sync.Mutex
	pad [48]byte
}

//go:noinline
func waitOn(m *sync.Mutex, started *sync.WaitGroup) { started.Done(); m.Lock() }

// path0 and path1 spell the bits of an index, low bit first: a stack per index.
//
//go:noinline
func path0(i, bits int, never chan int, started *sync.WaitGroup) {
	pathNext(i, bits, never, started)
}

//go:noinline
func path1(i, bits int, never chan int, started *sync.WaitGroup) {
	pathNext(i, bits, never, started)
}

func pathNext(i, bits int, never chan int, started *sync.WaitGroup) {
	if bits == 0 {
		started.Done()
		<-never
		return
	}
	if i&1 == 0 {
		path0(i>>1, bits-1, never, started)
	} else {
		path1(i>>1, bits-1, never, started)
	}
}

//go:noinline
func recurse(d int, never chan int, started *sync.WaitGroup) {
	if d == 0 {
		started.Done()
		<-never
		return
	}
	recurse(d-1, never, started)
}

//go:noinline
func holdObject(o *object, never chan int, started *sync.WaitGroup) {
	started.Done()
	<-never
	o.pad[0]++
}

// stress starts n goroutines in the given shape; false if the shape is unknown.
func stress(shape string, n int, started *sync.WaitGroup) bool {
	never := make(chan int)
	started.Add(n)
	switch shape {
	case "mutexes":
		var m *sync.Mutex
		for i := 0; i < n; i++ {
			if i%4 == 0 {
				m = new(sync.Mutex)
				m.Lock() // held by main
			}
			go waitOn(m, started)
		}
	case "unique":
		bits := 1
		for 1<<bits < n {
			bits++
		}
		for i := 0; i < n; i++ {
			go pathNext(i, bits, never, started)
		}
	case "deep":
		for i := 0; i < n; i++ {
			go recurse(8+(i*7)%65, never, started)
		}
	case "addresses":
		for i := 0; i < n; i++ {
			go holdObject(new(object), never, started)
		}
	default:
		started.Add(-n)
		return false
	}
	return true
}

func writeStacks(n int, out string) {
	size := n*1600 + 1<<20
	var buf []byte
	for {
		buf = make([]byte, size)
		got := runtime.Stack(buf, true)
		if got < len(buf) {
			buf = buf[:got]
			break
		}
		size *= 2
	}
	if err := os.WriteFile(out, buf, 0o644); err != nil {
		panic(err)
	}
	fmt.Fprintf(os.Stderr, "wrote %d goroutines, %d bytes to %s\n", runtime.NumGoroutine(), len(buf), out)
}

func main() {
	n := flag.Int("n", 10000, "goroutines to create")
	out := flag.String("o", "dump.txt", "where to write the dump")
	shape := flag.String("shape", "mixed", "mixed, mutexes, unique, deep or addresses")
	flag.Parse()
	if *shape != "mixed" {
		var started sync.WaitGroup
		if !stress(*shape, *n, &started) {
			fmt.Fprintf(os.Stderr, "unknown shape %q\n", *shape)
			os.Exit(2)
		}
		started.Wait()
		time.Sleep(time.Duration(200+*n/2000) * time.Millisecond)
		writeStacks(*n, *out)
		return
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	var accepted []net.Conn // kept reachable: a collected conn would be closed
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted = append(accepted, c) // never writes: readers block in IO wait
		}
	}()
	w := &world{never: make(chan int), full: make(chan int), lim: &limiter{count: map[string]int{}}}
	w.cond = sync.NewCond(&w.condMu)
	w.lim.cond = sync.NewCond(&w.lim.mu)
	w.conn, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	w.mu.Lock()   // held by main: mutex waiters pile up
	w.rw.RLock()  // held by main: writers wait, then readers queue behind them
	w.wg.Add(1)   // never done
	// The keyed-limiter deadlock: the holder re-enters the limiter for the same key.
	w.lim.Acquire("hot")

	// 11 leaves x 9 depths = 99 distinct stacks (plus a few fixed goroutines).
	depths := []int{2, 5, 8, 11, 14, 17, 20, 23, 26}
	w.started.Add(*n)
	for i := 0; i < *n; i++ {
		leaf := leaves[i%len(leaves)]
		d := depths[(i/len(leaves))%len(depths)]
		go nestA(d, w, leaf)
	}
	w.started.Wait()
	time.Sleep(time.Duration(200+*n/2000) * time.Millisecond)

	writeStacks(*n, *out)
}
