// Command gen creates N real goroutines in mixed blocking states and writes the
// runtime's full traceback of all of them (runtime.Stack(buf, true), the same text
// as a SIGQUIT dump or ?debug=2 without the 64 MB cap) to a file. It feeds
// godeadlock's benchmark. -shape picks what the goroutines look like:
//
//	mixed      (default) ~100 distinct stacks, depths 5 to 30 frames, and a
//	           keyed-limiter deadlock among them
//	mutexes    n/4 distinct mutexes, each held by one goroutine blocked on a
//	           channel while three others wait to lock it
//	unique     every goroutine on its own stack: the call path through four
//	           functions spells the goroutine's number in base 4
//	deep       one recursive function, depths 1 to 250 (past 100 frames the
//	           runtime elides the middle)
//	addresses  every goroutine waits on its own object (its own channel,
//	           WaitGroup or Cond), so every goroutine mentions a different address
//
//	go run . -n 1000000 -o dump.txt
//	go run . -shape unique -n 100000 -o unique.txt
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

func main() {
	n := flag.Int("n", 10000, "goroutines to create")
	out := flag.String("o", "dump.txt", "where to write the dump")
	shape := flag.String("shape", "mixed", "mixed, mutexes, unique, deep or addresses")
	flag.Parse()

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
	w.mu.Lock()  // held by main: mutex waiters pile up
	w.rw.RLock() // held by main: writers wait, then readers queue behind them
	w.wg.Add(1)  // never done
	// The keyed-limiter deadlock: the holder re-enters the limiter for the same key.
	w.lim.Acquire("hot")

	switch *shape {
	case "mixed":
		spawnMixed(*n, w)
	case "mutexes":
		spawnMutexes(*n)
	case "unique":
		spawnUnique(*n, w)
	case "deep":
		spawnDeep(*n, w)
	case "addresses":
		spawnAddresses(*n)
	default:
		fmt.Fprintf(os.Stderr, "unknown shape %q\n", *shape)
		os.Exit(2)
	}
	time.Sleep(time.Duration(200+*n/2000) * time.Millisecond)
	writeDump(*n, *out)
}

// spawnMixed: 11 leaves x 9 depths = 99 distinct stacks (plus a few fixed goroutines).
func spawnMixed(n int, w *world) {
	depths := []int{2, 5, 8, 11, 14, 17, 20, 23, 26}
	w.started.Add(n)
	for i := 0; i < n; i++ {
		leaf := leaves[i%len(leaves)]
		d := depths[(i/len(leaves))%len(depths)]
		go nestA(d, w, leaf)
	}
	w.started.Wait()
}

// The mutexes shape: many boxes, one holder each.

type box struct {
	mu    sync.Mutex
	value int
}

var never = make(chan int)

//go:noinline
func holdBox(b *box, locked *sync.WaitGroup) {
	b.mu.Lock()
	b.value++
	locked.Done()
	<-never // blocked forever with the lock held
	b.mu.Unlock()
}

//go:noinline
func waitBox(b *box, started *sync.WaitGroup) {
	started.Done()
	b.mu.Lock()
	b.value++
	b.mu.Unlock()
}

// spawnMutexes: n/4 boxes; for each, a holder (locks, then blocks on a channel
// nobody sends on) and three goroutines waiting in Lock.
func spawnMutexes(n int) {
	var locked, started sync.WaitGroup
	boxes := make([]*box, (n+3)/4)
	for i := range boxes {
		boxes[i] = &box{}
	}
	locked.Add(len(boxes))
	for _, b := range boxes {
		go holdBox(b, &locked)
	}
	locked.Wait()
	waiters := n - len(boxes)
	started.Add(waiters)
	for i := 0; i < waiters; i++ {
		go waitBox(boxes[i%len(boxes)], &started)
	}
	started.Wait()
}

// The unique shape: the path through digit0..digit3 spells i+1 in base 4, least
// significant digit first, so no two goroutines share a stack (the last digit
// is never 0); the leaf is one of the mixed shape's.

//go:noinline
func digit0(rest int, w *world, leaf func(*world)) { nextDigit(rest, w, leaf) }

//go:noinline
func digit1(rest int, w *world, leaf func(*world)) { nextDigit(rest, w, leaf) }

//go:noinline
func digit2(rest int, w *world, leaf func(*world)) { nextDigit(rest, w, leaf) }

//go:noinline
func digit3(rest int, w *world, leaf func(*world)) { nextDigit(rest, w, leaf) }

// nextDigit is inlined into each digit function (no frame of its own).
func nextDigit(rest int, w *world, leaf func(*world)) {
	switch {
	case rest == 0:
		leaf(w)
	case rest%4 == 0:
		digit0(rest/4, w, leaf)
	case rest%4 == 1:
		digit1(rest/4, w, leaf)
	case rest%4 == 2:
		digit2(rest/4, w, leaf)
	default:
		digit3(rest/4, w, leaf)
	}
}

func spawnUnique(n int, w *world) {
	w.started.Add(n)
	for i := 0; i < n; i++ {
		go nextDigitRoot(i+1, w, leaves[i%len(leaves)])
	}
	w.started.Wait()
}

//go:noinline
func nextDigitRoot(rest int, w *world, leaf func(*world)) { nextDigit(rest, w, leaf) }

// The deep shape: one recursive function, depths spread over 1..250.

//go:noinline
func recurse(d int, w *world, leaf func(*world)) {
	if d <= 0 {
		leaf(w)
		return
	}
	recurse(d-1, w, leaf)
}

func spawnDeep(n int, w *world) {
	w.started.Add(n)
	for i := 0; i < n; i++ {
		d := 1 + (i*7919)%250
		go recurse(d, w, leaves[i%len(leaves)])
	}
	w.started.Wait()
}

// The addresses shape: every goroutine waits on an object of its own.

type own struct {
	ch   chan int
	wg   sync.WaitGroup
	mu   sync.Mutex
	cond *sync.Cond
}

//go:noinline
func ownRecv(o *own, started *sync.WaitGroup) { started.Done(); <-o.ch }

//go:noinline
func ownSend(o *own, started *sync.WaitGroup) { started.Done(); o.ch <- 1 }

//go:noinline
func ownWaitGroup(o *own, started *sync.WaitGroup) { started.Done(); o.wg.Wait() }

//go:noinline
func ownCond(o *own, started *sync.WaitGroup) {
	o.mu.Lock()
	started.Done()
	o.cond.Wait()
	o.mu.Unlock()
}

var owners = []func(*own, *sync.WaitGroup){ownRecv, ownSend, ownWaitGroup, ownCond}

func spawnAddresses(n int) {
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		o := &own{ch: make(chan int)}
		o.wg.Add(1)
		o.cond = sync.NewCond(&o.mu)
		go owners[i%len(owners)](o, &started)
	}
	started.Wait()
}

func writeDump(n int, out string) {

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
