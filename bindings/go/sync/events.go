package sync

// EventKind is what happened in an election event (WatchElect).
type EventKind int

const (
	// EventJoined: a candidate joined the namespace.
	EventJoined EventKind = iota
	// EventLeft: a candidate left (resigned, closed, lease lost).
	EventLeft
	// EventElected: the member became primary.
	EventElected
)

func (k EventKind) String() string {
	switch k {
	case EventJoined:
		return "joined"
	case EventLeft:
		return "left"
	case EventElected:
		return "elected"
	}
	return "unknown"
}

// Event is one election event: its kind and the member concerned.
type Event struct {
	Kind   EventKind
	Member *Member
}
