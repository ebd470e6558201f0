package softkey

import (
	"bytes"
	"slices"
)

// CredentialManagement subcommands (CTAP 2.1 §6.8).
const (
	cmGetCredsMetadata      = 0x01
	cmEnumerateRPsBegin     = 0x02
	cmEnumerateRPsNext      = 0x03
	cmEnumerateCredsBegin   = 0x04
	cmEnumerateCredsNext    = 0x05
	cmDeleteCredential      = 0x06
	cmUpdateUserInformation = 0x07
)

func (a *authenticator) credMgmt(params []byte) (any, error) {
	var req credMgmtReq
	if err := decodeRequest(params, &req); err != nil {
		return nil, err
	}
	if req.SubCommand == nil {
		return nil, StatusMissingParameter
	}
	sub := *req.SubCommand
	switch sub {
	case cmEnumerateRPsNext:
		a.credIter = nil
		return a.nextRP()
	case cmEnumerateCredsNext:
		a.rpIter = nil
		return a.nextCred()
	case cmGetCredsMetadata, cmEnumerateRPsBegin, cmEnumerateCredsBegin, cmDeleteCredential, cmUpdateUserInformation:
	default:
		return nil, StatusInvalidSubcommand
	}
	a.rpIter, a.credIter = nil, nil

	var p credMgmtParams
	if req.SubCommandParams != nil {
		if err := decodeRequest(req.SubCommandParams, &p); err != nil {
			return nil, err
		}
	}
	if req.PinUvAuthParam == nil {
		return nil, StatusPUATRequired
	}
	proto, err := a.checkProtocol(req.PinUvAuthProtocol)
	if err != nil {
		return nil, err
	}
	// The MAC covers the subcommand byte and the parameters exactly as sent.
	msg := append([]byte{byte(sub)}, req.SubCommandParams...)
	if err := a.useToken(proto, req.PinUvAuthParam, msg, permCredMgmt, ""); err != nil {
		return nil, err
	}
	// A token bound to one RP may only manage that RP's credentials.
	bound := a.tokenRPID

	switch sub {
	case cmGetCredsMetadata:
		if bound != "" {
			return nil, StatusPINAuthInvalid
		}
		return map[int]any{1: len(a.resident), 2: a.cfg.maxResident - len(a.resident)}, nil
	case cmEnumerateRPsBegin:
		if bound != "" {
			return nil, StatusPINAuthInvalid
		}
		var rps []*residentCred
		for _, r := range a.resident {
			if !slices.ContainsFunc(rps, func(x *residentCred) bool { return x.rpID == r.rpID }) {
				rps = append(rps, r)
			}
		}
		if len(rps) == 0 {
			return nil, StatusNoCredentials
		}
		a.rpIter = rps[1:]
		return rpResponse(rps[0], len(rps)), nil
	case cmEnumerateCredsBegin:
		if p.RPIDHash == nil {
			return nil, StatusMissingParameter
		}
		if bound != "" && !bytes.Equal(rpHash(bound), p.RPIDHash) {
			return nil, StatusPINAuthInvalid
		}
		var creds []*residentCred
		for _, r := range a.resident {
			if bytes.Equal(rpHash(r.rpID), p.RPIDHash) {
				creds = append(creds, r)
			}
		}
		if len(creds) == 0 {
			return nil, StatusNoCredentials
		}
		a.credIter = creds[1:]
		return credResponse(creds[0], len(creds)), nil
	case cmDeleteCredential:
		if p.CredentialID == nil {
			return nil, StatusMissingParameter
		}
		i := a.findResident(p.CredentialID.ID)
		if i < 0 {
			return nil, StatusNoCredentials
		}
		if bound != "" && a.resident[i].rpID != bound {
			return nil, StatusPINAuthInvalid
		}
		a.resident = slices.Delete(a.resident, i, i+1)
		a.dirty = true
		return nil, nil
	default: // cmUpdateUserInformation
		if p.CredentialID == nil || p.User == nil {
			return nil, StatusMissingParameter
		}
		i := a.findResident(p.CredentialID.ID)
		if i < 0 {
			return nil, StatusNoCredentials
		}
		r := a.resident[i]
		if bound != "" && r.rpID != bound {
			return nil, StatusPINAuthInvalid
		}
		if !bytes.Equal(r.user.ID, p.User.ID) {
			return nil, StatusInvalidParameter
		}
		r.user.Name = p.User.Name
		r.user.DisplayName = p.User.DisplayName
		a.dirty = true
		return nil, nil
	}
}

func rpResponse(r *residentCred, total int) map[int]any {
	resp := map[int]any{
		3: rpEntity{ID: r.rpID, Name: r.rpName},
		4: rpHash(r.rpID),
	}
	if total > 0 {
		resp[5] = total
	}
	return resp
}

func credResponse(r *residentCred, total int) map[int]any {
	resp := map[int]any{
		6:  r.user,
		7:  credDescriptor{Type: credTypePublicKey, ID: r.id},
		8:  coseFromECDSA(&r.priv.PublicKey),
		10: r.credProtect,
	}
	if total > 0 {
		resp[9] = total
	}
	return resp
}

func (a *authenticator) nextRP() (any, error) {
	if len(a.rpIter) == 0 {
		a.rpIter = nil
		return nil, StatusNotAllowed
	}
	r := a.rpIter[0]
	a.rpIter = a.rpIter[1:]
	return rpResponse(r, 0), nil
}

func (a *authenticator) nextCred() (any, error) {
	if len(a.credIter) == 0 {
		a.credIter = nil
		return nil, StatusNotAllowed
	}
	r := a.credIter[0]
	a.credIter = a.credIter[1:]
	return credResponse(r, 0), nil
}
