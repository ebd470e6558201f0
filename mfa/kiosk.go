package mfa

// CodeLengths returns how many digits a one-time code sent by SMS or voice
// and a TOTP code have under the current policy, for pages that size their
// inputs.
func (s *Service) CodeLengths() (code, totp int) {
	p := s.pol()
	return p.CodeLength, p.TOTP.Digits
}
