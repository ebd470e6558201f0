-- Security keys: the registration as an outside WebAuthn verifier needs it.
ALTER TABLE methods ADD COLUMN credential_id bytea;
ALTER TABLE methods ADD COLUMN public_key bytea;
ALTER TABLE methods ADD COLUMN aaguid bytea;
ALTER TABLE methods ADD COLUMN sign_count bigint NOT NULL DEFAULT 0;
ALTER TABLE methods ADD COLUMN attestation_object bytea;
ALTER TABLE methods ADD COLUMN client_data bytea;
ALTER TABLE methods ADD COLUMN attestation_format text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX methods_credential ON methods (credential_id) WHERE credential_id IS NOT NULL;

-- The WebAuthn challenge bytes of a security-key challenge.
ALTER TABLE challenges ADD COLUMN webauthn_challenge bytea;
