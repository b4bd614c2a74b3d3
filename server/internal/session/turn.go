package session

// turnState is where the conversation is:
//
//	listening ──speech──> user speaking ──end of turn──> thinking ──first audio──> agent speaking ──done──> listening
//	                 ^                                                                   │
//	                 └───────────── barge-in (speech over the agent ≥ interrupt_after) ──┘
type turnState int

// The turn states.
const (
	turnListening turnState = iota
	turnUserSpeaking
	turnThinking
	turnAgentSpeaking
)

func (t turnState) String() string {
	return [...]string{"listening", "user_speaking", "thinking", "agent_speaking"}[t]
}

func (s *Session) setTurn(st turnState) {
	if s.turn != st {
		s.log.Debug("turn state", "from", s.turn.String(), "to", st.String())
		s.turn = st
		s.turnNow.Store(int32(st))
	}
}

// settle returns to listening unless the user or the agent is busy.
func (s *Session) settle() {
	switch {
	case s.uturn != nil && !s.uturn.ended:
		s.setTurn(turnUserSpeaking)
	case s.resp == nil:
		s.setTurn(turnListening)
	}
}
