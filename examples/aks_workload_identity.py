"""An AKS pod calling a CAE-protected API with Microsoft Entra Workload ID.

What it shows
    * ``WorkloadIdentityCredential()`` reads what the AKS workload identity webhook injects:
      ``AZURE_CLIENT_ID``, ``AZURE_TENANT_ID``, ``AZURE_FEDERATED_TOKEN_FILE`` (the projected
      service account token, re-read when kubelet rotates it) and ``AZURE_AUTHORITY_HOST``;
    * it exchanges the Kubernetes token for an Entra access token (a federated client
      assertion) that announces ``cp1``, so the API can revoke it at any time;
    * a disabled service principal is refused with AADSTS7000112 and a remediation text that
      names the administrator as the fix.

In a pod: ``python aks_workload_identity.py --url https://orders.internal/orders --scope
api://<api app id>/.default``. Here, ``--check`` plays the pod against the dev identity
provider, which also plays the cluster's OIDC issuer.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from cae_sdk import CAEClient, TokenAcquisitionError, WorkloadIdentityCredential


def call(url: str, scope: str, credential: WorkloadIdentityCredential | None = None) -> int:
    """What the pod runs: one call with the injected identity."""
    with CAEClient(credential or WorkloadIdentityCredential(), [scope]) as client:
        response = client.get(url)
    print(url, "->", response.status_code)
    return 0 if response.is_success else 1


def check() -> int:
    from _devenv import api_options, serve, verdict
    from fastapi_resource import create_app

    from cae_sdk.devidp import DevIdentityProvider

    with DevIdentityProvider() as idp, tempfile.TemporaryDirectory() as tmp:
        token_file = Path(tmp) / "azure-identity-token"
        token_file.write_text(idp.mint_federated_token())  # what kubelet projects into the pod
        environ = {
            "AZURE_CLIENT_ID": idp.seed.federated_app.client_id,
            "AZURE_TENANT_ID": idp.tenant_id,
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
            "AZURE_AUTHORITY_HOST": idp.base_url,
        }
        api = create_app(**api_options(idp))
        scope = idp.seed.api.default_scope
        with serve(api) as server:
            pod_identity = WorkloadIdentityCredential(environ=environ, ca_bundle=idp.ca_bundle)
            served = call(f"{server.url}/orders", scope, pod_identity)
            idp.admin.disable_service_principal(idp.seed.federated_app.client_id)
            try:
                WorkloadIdentityCredential(environ=environ, ca_bundle=idp.ca_bundle).get_token(
                    [scope]
                )
                refused = False
            except TokenAcquisitionError as error:
                print("disabled:", error.error_codes, error.remediation.kind.value)
                refused = 7000112 in error.error_codes
    return verdict(served == 0 and refused)


def main(argv: list[str] | None = None) -> int:
    from _devenv import client_example_main

    return client_example_main(__doc__, argv, check, lambda args: call(args.url, args.scope))


if __name__ == "__main__":
    sys.exit(main())
