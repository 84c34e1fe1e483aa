"""Property: no public query of any kind returns or highlights a confidential sender's details."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.text import fold, mask_phone

SECRETS = [
    ("Hoàng Bảo Mật", "0987111222", "baomat.hoang@example.vn"),
    ("Nguyễn Kín Đáo", "0356777888", "kindao@example.vn"),
    ("Công ty TNHH Giấu Tên", "0912000999", "giauten@example.vn"),
]
PUBLIC = ("Trần Công Khai", "0909123456")


def corpus(make_report, search):
    for i, (name, phone, email) in enumerate(SECRETS):
        make_report(title=f"Phản ánh bảo mật số {i} về ngập nước", content=f"Nội dung {i} đường ngập nước",
                    confidential=True, sender_name=name, sender_phone=phone, sender_email=email,
                    sender_address="Số 7 hẻm bí mật", organization_name=name if i == 2 else None,
                    sender_kind="organization" if i == 2 else "individual")
    make_report(title="Phản ánh công khai về ngập nước", sender_name=PUBLIC[0], sender_phone=PUBLIC[1])
    search.index()


def leaks(text: str) -> list[str]:
    found = []
    folded = fold(text)
    for name, phone, email in SECRETS:
        for secret in (name, phone, email, mask_phone(phone)):
            if secret in text or fold(secret) in folded:
                found.append(secret)
    return found


words = [w for name, _, email in SECRETS for w in name.split() + email.split("@")]
phones = [p for _, p, _ in SECRETS] + [PUBLIC[1]]
query_text = st.lists(st.sampled_from(words + ["ngập", "nước", "bảo mật", "phản ánh", "hẻm"]),
                      min_size=0, max_size=3).map(" ".join)
phone_text = st.sampled_from(phones).flatmap(
    lambda p: st.sampled_from([p, "+84 " + p[1:], p[:3] + " " + p[3:6] + " " + p[6:], "84" + p[1:]]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=query_text, phone=st.one_of(st.none(), phone_text), sort=st.sampled_from(["", "relevance", "newest"]))
def test_no_public_search_reveals_a_confidential_sender(client, search, make_report, q, phone, sort):
    if search.engine.count() == 0:
        corpus(make_report, search)
    params = {"q": q, "sort": sort}
    api_get = client.get("/api/v1/reports", query_string=params).get_data(as_text=True)
    assert leaks(api_get) == [], (q, api_get)
    page = client.get("/tra-cuu", query_string=params).get_data(as_text=True)
    # The visitor's own words come back in form fields (the search box, the phone form's hidden
    # copy of the query); those are input, not sender data. Results never sit in a value="…".
    page = re.sub(r'value="[^"]*"', "", page)
    assert leaks(page) == []
    if phone:
        body = client.post("/api/v1/reports/search", json={**params, "phone": phone})
        assert leaks(body.get_data(as_text=True)) == []
        data = body.get_json()
        if phone.replace(" ", "").endswith(PUBLIC[1][1:]):
            if not q:
                assert data["total"] == 1  # the public sender's number still finds their report
        else:
            assert data["total"] == 0  # a confidential sender's number finds nothing at all
        posted = client.post("/tra-cuu", data={**params, "phone": phone}).get_data(as_text=True)
        # The page repeats what the visitor typed (the phone box, "số điện thoại 098*****22" in the
        # summary); that is their own input, not a sender's data. Everything else must be clean.
        posted = re.sub(r'value="[^"]*"', "", posted)
        posted = re.sub(r'<h2 id="results-title".*?</h2>', "", posted, flags=re.S)
        assert leaks(posted) == []
    for item in json.loads(api_get).get("items", []):
        page = client.get(f"/pakn/{item['code']}").get_data(as_text=True)
        assert leaks(page) == []
