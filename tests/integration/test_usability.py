"""Issue 16 (what users trip over): codes in search boxes, Tra cứu mã's answer, staff actions per
state, separate phone search, answer-template placeholders, forms and wording, no "None"."""

from __future__ import annotations


def text(response) -> str:
    return response.get_data(as_text=True)


def variants(code: str) -> list[str]:
    """How people paste a code: lower case, without the dash, with spaces around."""
    return [code, code.lower(), code.replace("-", ""), f"  {code.lower()}  ", code.replace("-", " ")]


# -- 1. a tracking code in a search box -----------------------------------------------------------
def test_public_search_with_a_published_code_opens_the_report(client, make_report, search):
    report = make_report(title="Đèn đường hỏng trước trường học")
    search.index()
    for typed in variants(report.code):
        response = client.get("/tra-cuu", query_string={"q": typed})
        assert response.status_code == 302, typed
        assert response.headers["Location"].endswith(f"/pakn/{report.code}")


def test_public_search_with_an_unpublished_code_says_so_and_points_to_the_lookup(client, make_report, search):
    report = make_report(published=False, status="pending")
    search.index()
    response = client.get("/tra-cuu", query_string={"q": report.code.lower()})
    html = text(response)
    assert response.status_code == 200
    assert f"Mã {report.code} không phải mã của một phản ánh đã công khai" in html
    assert f'/tra-cuu-ma?code={report.code}' in html
    assert report.title not in html
    # The lookup form comes with the code filled in.
    assert f'value="{report.code}"' in text(client.get(f"/tra-cuu-ma?code={report.code.lower()}"))


def test_api_search_answers_a_code_as_the_single_result(client, make_report, search):
    report = make_report(title="Rác thải chưa được thu gom")
    make_report(title="Một phản ánh khác")
    hidden = make_report(published=False, status="pending")
    search.index()
    for typed in variants(report.code):
        body = client.get("/api/v1/reports", query_string={"q": typed}).get_json()
        assert body["total"] == 1 and [i["code"] for i in body["items"]] == [report.code], typed
    body = client.post("/api/v1/reports/search", json={"q": report.code.lower()}).get_json()
    assert [i["code"] for i in body["items"]] == [report.code]
    body = client.get("/api/v1/reports", query_string={"q": hidden.code}).get_json()
    assert body["total"] == 0 and body["items"] == []


def test_staff_inbox_with_a_code_opens_the_report_only_in_scope(session, make_report, make_staff, staff_login, search):
    report = make_report(status="pending", published=False)
    search.index()
    intake = staff_login(make_staff("tn-ma", "officer"))
    for typed in variants(report.code):
        response = intake.get("/can-bo/hop-thu", query_string={"q": typed})
        assert response.status_code == 302, typed
        assert response.headers["Location"].endswith(f"/can-bo/pakn/{report.code}")
    # An officer of a unit the report is not assigned to is not sent there (and learns nothing).
    other = staff_login(make_staff("xa-ma", "officer", unit="don-vi-khac"))
    response = other.get("/can-bo/hop-thu", query_string={"q": report.code})
    assert response.status_code == 200 and report.title not in text(response)
