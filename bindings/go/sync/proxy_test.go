package sync_test

import (
	"net"
	gosync "sync"
	"testing"
)

// pausableProxy forwards TCP to etcd on 127.0.0.1 and can hold every byte
// (pause), as a stalled etcd or network would, without touching etcd.
type pausableProxy struct {
	ln       net.Listener
	upstream string
	mu       gosync.Mutex
	resumed  chan struct{} // nil while running; closed on resume
	conns    []net.Conn
}

func startProxy(t *testing.T, upstream string) *pausableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pausableProxy{ln: ln, upstream: upstream}
	go p.accept()
	return p
}

func (p *pausableProxy) Addr() string { return p.ln.Addr().String() }

func (p *pausableProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *pausableProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.gate()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF or closed: dst is closed by the defer
			return
		}
	}
}

// gate waits while paused.
func (p *pausableProxy) gate() {
	p.mu.Lock()
	resumed := p.resumed
	p.mu.Unlock()
	if resumed != nil {
		<-resumed
	}
}

func (p *pausableProxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumed == nil {
		p.resumed = make(chan struct{})
	}
}

func (p *pausableProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumed != nil {
		close(p.resumed)
		p.resumed = nil
	}
}

func (p *pausableProxy) Close() {
	p.Resume()
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}
