// Signing keys: kid, algorithm, dates and state; rotation, and emergency rotation behind a
// confirmation that says what it breaks.
import { useState } from "preact/hooks";
import type * as T from "../gql/tenant";
import { useApi } from "../context";
import { Banner, Button, Confirm, Loading, useAction, useLoad, when } from "../ui";

const STATUS: Record<T.SigningKeyStatus, string> = {
  PUBLISHED: "published, signs soon",
  SIGNING: "signing",
  RETIRED: "retired",
  REVOKED: "revoked",
};

export function Keys() {
  const api = useApi();
  const keys = useLoad(() => api.q<T.SigningKeysQuery>("SigningKeys"), []);
  const act = useAction();
  const [confirm, setConfirm] = useState<null | "normal" | "emergency">(null);
  const rotate = async (emergency: boolean) => {
    const r = await act.run(() => api.q<T.RotateSigningKeyMutation, T.RotateSigningKeyMutationVariables>("RotateSigningKey", { emergency }));
    setConfirm(null);
    if (r) {
      act.setOk(
        emergency
          ? `New key ${r.rotateSigningKey} signs now; the earlier keys are revoked.`
          : `New key ${r.rotateSigningKey} is published and signs in 6 minutes.`,
      );
      keys.reload();
    }
  };
  return (
    <section>
      <h1 tabIndex={-1}>Signing keys</h1>
      <Banner error={act.error ?? keys.error} ok={act.ok} />
      {keys.loading && !keys.data && <Loading what="keys" />}
      {keys.data && (
        <table>
          <caption class="sr-only">Signing keys, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Key id (kid)</th>
              <th scope="col">Algorithm</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">Signs from</th>
              <th scope="col">Signs until</th>
            </tr>
          </thead>
          <tbody>
            {keys.data.signingKeys.map((k) => (
              <tr>
                <td>
                  <code>{k.kid}</code>
                </td>
                <td>{k.algorithm}</td>
                <td>
                  <span class={`tag ${k.status === "SIGNING" ? "good" : k.status === "REVOKED" ? "bad" : ""}`}>{STATUS[k.status]}</span>
                </td>
                <td>{when(k.createdAt)}</td>
                <td>{when(k.activatesAt)}</td>
                <td>{when(k.revokedAt ?? k.retiredAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="actions">
        <Button kind="primary" onClick={() => setConfirm("normal")}>
          Rotate key
        </Button>
        <Button kind="danger" onClick={() => setConfirm("emergency")}>
          Emergency rotation…
        </Button>
      </div>
      <Confirm
        open={confirm === "normal"}
        title="Rotate the signing key?"
        action="Rotate key"
        busy={act.busy}
        onCancel={() => setConfirm(null)}
        onConfirm={() => rotate(false)}
      >
        <p>
          A new key is published now and signs after the JWKS cache time (6 minutes); tokens signed by the current key keep verifying
          until they expire. Nobody is signed out.
        </p>
      </Confirm>
      <Confirm
        open={confirm === "emergency"}
        title="Emergency rotation: the current key has leaked?"
        action="Rotate now and revoke the old keys"
        busy={act.busy}
        onCancel={() => setConfirm(null)}
        onConfirm={() => rotate(true)}
      >
        <p>
          The new key signs <strong>at once</strong> and every earlier key is <strong>revoked</strong>: every access token and id_token
          issued so far stops verifying immediately, and apps that cached the JWKS fail until they fetch it again. Users keep their
          sessions and get new tokens at their next refresh.
        </p>
      </Confirm>
    </section>
  );
}
