"""What the demo reports say and when: pure generation, no app and no database (tests run it alone).

A report is written from parts that agree: a *problem* of one field (its unit follows from the
field) with the months it happens in (floods in the rainy season, dry taps in the dry season, fees at
the start of the school year), a place (the report's ward, or before 1 July 2025 sometimes the former
district that ward came from, and never after), a road written once ("Quốc lộ 22", "đường Lê Lợi",
never "Đường Đường tỉnh 782"), and details (house numbers, landmarks, days) that make most titles
distinct. A few problems recur (weights fall off like a Zipf law), the rest are a long tail.
The status follows the age: an old report has been handled; only recent ones are still open.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# A fixed end of the demo period keeps the data identical for a given seed on any day.
DEMO_UNTIL = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
DEMO_YEARS = 3
REORGANISED = datetime(2025, 6, 30, 17, 0, tzinfo=UTC)  # 1 July 2025 00:00 in Vietnam
OPEN_FOR_AT_MOST = timedelta(days=60)  # older reports have been answered, closed or refused
LEGACY_SHARE = 0.3  # of reports sent before the reorganisation, those that name the former district

RAINY = (5, 6, 7, 8, 9, 10, 11)
DRY = (12, 1, 2, 3, 4)
ALL = tuple(range(1, 13))

ROADS = ["Quốc lộ 22", "Quốc lộ 22B", "Đường tỉnh 782", "Đường tỉnh 784", "Đường tỉnh 786",
         "đường Cách Mạng Tháng Tám", "đường 30 Tháng 4", "đường Trần Hưng Đạo", "đường Nguyễn Chí Thanh",
         "đường Điện Biên Phủ", "đường Lý Thường Kiệt", "đường Hùng Vương", "đường Nguyễn Văn Linh",
         "đường Trưng Nữ Vương", "đường Lạc Long Quân", "đường Nguyễn Trãi", "đường Võ Thị Sáu",
         "đường Lê Lợi", "đường Tôn Đức Thắng", "đường Phạm Văn Đồng", "đường Hoàng Lê Kha",
         "đường Bời Lời", "đường Nguyễn Thái Học", "đường Lê Duẩn", "đường Huỳnh Tấn Phát",
         "đường Phạm Hùng", "đường Nguyễn Văn Rốp", "đường Bùi Thị Xuân", "đường Ca Văn Thỉnh"]
# A commune (xã, huyện) is divided into ấp, a ward (phường, thị xã, thành phố) into khu phố.
HAMLETS = ["ấp Bình Thạnh", "ấp Tân Lập", "ấp Suối Cao", "ấp Trường Lưu", "ấp Long Khánh",
           "ấp Cầu Sắt", "ấp Bến Mương", "ấp Phước Hội", "ấp Thạnh Hiệp", "ấp Rạch Sơn"]
QUARTERS = ["khu phố 1", "khu phố 2", "khu phố 3", "khu phố 4", "khu phố 5", "khu phố Ninh Trung",
            "khu phố Hiệp Thạnh", "khu phố Long Chí", "khu phố Lộc Du"]
URBAN = ("Phường ", "Thị xã ", "Thành phố ", "Quận ")
LANDMARKS = ["chợ", "trường tiểu học", "trạm y tế", "nhà văn hóa", "cây xăng", "cầu", "ngã ba",
             "ngã tư", "chùa", "trường THCS", "khu công nghiệp", "bến xe"]


@dataclass(frozen=True)
class Problem:
    """One kind of report: its field, weight among all, months it happens in, and its texts.

    Texts are ``str.format`` templates over: {road} (written once, with its own prefix), {Road}
    (the same, capitalised), {place} (the ward or former district, lower-case type), {hamlet},
    {landmark}, {n} (a house number), {days}, {hours}.
    """

    key: str
    field: str
    weight: float
    months: tuple[int, ...]
    titles: tuple[str, ...]
    contents: tuple[str, ...]
    idea: bool = False


P = Problem
PROBLEMS: list[Problem] = [
    # the recurring ones
    P("ngap", "cap-thoat-nuoc", 30, RAINY,
      ("{Road} ngập sâu sau mưa lớn", "Ngập nước trước số {n} {road}", "Mưa lớn, {hamlet} ({place}) ngập nước nhiều giờ"),
      ("Cứ mỗi trận mưa lớn, đoạn {road} trước số {n} ({place}) ngập sâu 30-40 cm, nước tràn vào nhà dân "
       "do cống thoát nước bị rác bít kín. Đề nghị nạo vét cống trước khi vào cao điểm mưa.",
       "Chiều qua mưa khoảng {hours} giờ, nước ở {hamlet}, {place} không thoát kịp, xe máy chết máy hàng loạt. "
       "Tình trạng này lặp lại nhiều năm, đề nghị có phương án chống ngập lâu dài.")),
    P("o-ga", "giao-thong", 24, ALL,
      ("{Road} xuống cấp, nhiều ổ gà", "Ổ gà lớn trên {road} gần {landmark}", "Mặt đường {hamlet} hư hỏng nặng"),
      ("Đoạn {road} gần {landmark} ({place}) có nhiều ổ gà sâu, trời mưa đọng nước không nhìn thấy, "
       "đã có người đi xe máy bị té. Đề nghị sớm vá mặt đường.",
       "Đường vào {hamlet}, {place} bị xe tải chở vật liệu cày nát, mặt đường lởm chởm đá, "
       "học sinh đi học rất vất vả. Đề nghị sửa chữa và kiểm soát tải trọng xe.")),
    P("rac", "moi-truong", 20, ALL,
      ("Rác tồn đọng {days} ngày tại {hamlet}", "Bãi rác tự phát gần {landmark} trên {road}"),
      ("Rác sinh hoạt ở {hamlet}, {place} đã {days} ngày chưa được thu gom, bốc mùi hôi, ruồi nhặng nhiều. "
       "Đề nghị đơn vị thu gom đến đúng lịch.",
       "Gần {landmark} trên {road} ({place}) hình thành bãi rác tự phát, người đi đường tiện tay vứt rác, "
       "đề nghị dọn dẹp và lắp biển cấm, camera.")),
    P("mat-dien", "dien", 16, (3, 4, 5, 6),
      ("Mất điện nhiều lần trong ngày tại {hamlet}, {place}", "Cúp điện không báo trước ở {place}"),
      ("Từ đầu tuần, {hamlet} ({place}) mất điện {hours} lần mỗi ngày vào giờ nắng nóng, không có thông báo, "
       "tủ lạnh, máy bơm hư hỏng. Đề nghị ngành điện kiểm tra trạm biến áp.",
       "Khu vực gần {landmark} trên {road} ({place}) bị cắt điện cả buổi sáng mà không báo trước, "
       "các hộ kinh doanh bị thiệt hại.")),
    P("den-duong", "dien", 10, ALL,
      ("Đèn chiếu sáng trên {road} hỏng nhiều bóng", "Đoạn {road} gần {landmark} tối om ban đêm"),
      ("Hệ thống đèn chiếu sáng dọc {road} ({place}) hỏng nhiều bóng từ hơn {days} ngày nay, ban đêm rất tối, "
       "tiềm ẩn nguy cơ tai nạn và trộm cắp.",)),
    P("nuoc-yeu", "cap-thoat-nuoc", 9, DRY,
      ("Nước máy yếu, có giờ mất hẳn tại {hamlet}", "Thiếu nước sinh hoạt mùa khô ở {place}"),
      ("Mùa khô năm nay nước máy ở {hamlet}, {place} rất yếu, từ 17 giờ đến 21 giờ gần như không có nước. "
       "Đề nghị công ty cấp nước tăng áp hoặc bố trí xe chở nước.",)),
    # the long tail
    P("den-tin-hieu", "giao-thong", 5, ALL,
      ("Đèn tín hiệu tại {landmark} trên {road} không hoạt động",),
      ("Đèn tín hiệu giao thông ở {landmark} trên {road} ({place}) tắt đã {days} ngày, giờ cao điểm ùn tắc, "
       "nguy cơ va chạm cao.",)),
    P("xe-tai", "giao-thong", 4, ALL,
      ("Xe tải chạy quá tốc độ qua {hamlet}",),
      ("Buổi tối nhiều xe tải chạy rất nhanh qua khu dân cư {hamlet} ({place}) trên {road}. "
       "Đề nghị lắp biển hạn chế tốc độ và gờ giảm tốc.",)),
    P("bien-bao", "giao-thong", 3, ALL,
      ("Biển báo trên {road} bị cây che khuất",),
      ("Biển báo giao lộ gần {landmark} trên {road} ({place}) bị tán cây che khuất, lái xe không kịp nhìn.",)),
    P("lan-chiem", "xay-dung-do-thi", 6, ALL,
      ("Lấn chiếm vỉa hè buôn bán trên {road}", "Vỉa hè gần {landmark} bị chiếm làm bãi giữ xe"),
      ("Nhiều hộ kinh doanh bày hàng tràn ra vỉa hè và lòng {road} đoạn gần {landmark} ({place}), "
       "người đi bộ phải xuống lòng đường, rất mất an toàn.",)),
    P("xay-sai-phep", "xay-dung-do-thi", 4, ALL,
      ("Công trình số {n} {road} xây vượt số tầng",),
      ("Công trình nhà ở tại số {n} {road} ({place}) đang xây vượt số tầng được cấp phép, "
       "đề nghị kiểm tra giấy phép xây dựng.",)),
    P("cong-trinh-che-chan", "xay-dung-do-thi", 3, ALL,
      ("Công trình gần {landmark} không che chắn, vật liệu rơi xuống đường",),
      ("Công trình tại số {n} {road} ({place}) không có lưới che chắn, cát đá rơi xuống đường gây bụi và nguy hiểm.",)),
    P("via-he-dao", "xay-dung-do-thi", 3, ALL,
      ("Vỉa hè {road} đào lên {days} ngày chưa hoàn trả",),
      ("Vỉa hè {road} đoạn trước số {n} ({place}) bị đào để lắp đường ống đã {days} ngày nhưng chưa hoàn trả mặt bằng.",)),
    P("khoi-bui", "moi-truong", 4, DRY,
      ("Lò đốt gần {hamlet} xả khói đen ban đêm",),
      ("Một cơ sở sản xuất gần {hamlet} ({place}) thường xả khói đen vào ban đêm, người dân xung quanh bị ho, khó thở.",)),
    P("nuoc-thai", "moi-truong", 3, RAINY,
      ("Nước thải đen chảy ra kênh ở {hamlet}",),
      ("Sau các trận mưa, nước thải màu đen từ khu chăn nuôi chảy ra kênh ở {hamlet} ({place}), cá chết nổi trắng.",)),
    P("karaoke", "moi-truong", 3, ALL,
      ("Karaoke số {n} {road} hát đến khuya",),
      ("Quán karaoke ở số {n} {road} ({place}) hát đến sau 23 giờ, gây ồn ảnh hưởng việc nghỉ ngơi của người dân.",)),
    P("so-do", "dat-dai", 5, ALL,
      ("Hồ sơ cấp giấy chứng nhận quá hạn {days} ngày",),
      ("Tôi nộp hồ sơ cấp giấy chứng nhận quyền sử dụng đất tại bộ phận một cửa {place} "
       "đã quá hạn {days} ngày nhưng chưa nhận được kết quả, cũng không được báo lý do.",)),
    P("ranh-dat", "dat-dai", 3, ALL,
      ("Hộ liền kề xây tường lấn đất ở {hamlet}",),
      ("Hộ liền kề xây tường lấn sang phần đất của gia đình tôi ở {hamlet} ({place}). Đề nghị đo đạc, hòa giải.",)),
    P("y-te-thai-do", "y-te", 3, ALL,
      ("Chờ tiêm chủng hơn {hours} giờ ở trạm y tế {place}",),
      ("Buổi sáng tiêm chủng ở trạm y tế {place} người chờ rất đông, phải đợi hơn {hours} giờ, "
       "đề nghị chia khung giờ hẹn.",)),
    P("sot-xuat-huyet", "y-te", 4, RAINY,
      ("Nhiều ca sốt xuất huyết ở {hamlet}, đề nghị phun thuốc",),
      ("Tháng này {hamlet} ({place}) đã có mấy ca sốt xuất huyết, nhiều vũng nước đọng, đề nghị phun thuốc diệt muỗi.",)),
    P("lam-thu", "giao-duc", 4, (8, 9),
      ("Phụ huynh phản ánh các khoản thu đầu năm học ở {place}", "Lạm thu đầu năm học tại trường gần {landmark}"),
      ("Đầu năm học, một trường gần {landmark} ({place}) thu nhiều khoản ngoài quy định, phụ huynh rất bức xúc.",)),
    P("cong-truong", "giao-duc", 3, (1, 2, 3, 4, 5, 9, 10, 11, 12),
      ("Ùn tắc trước cổng trường trên {road} giờ tan học",),
      ("Giờ tan học, phụ huynh đậu xe kín {road} trước cổng trường ({place}), đề nghị bố trí chỗ đón.",)),
    P("dua-xe", "an-ninh-trat-tu", 4, ALL,
      ("Thanh niên tụ tập đua xe trên {road} ban đêm",),
      ("Sau 23 giờ, nhóm thanh niên tụ tập đua xe, nẹt pô trên {road} ({place}), đề nghị công an tuần tra.",)),
    P("trom", "an-ninh-trat-tu", 3, ALL,
      ("Mất trộm xe máy liên tiếp ở {hamlet}",),
      ("Gần đây {hamlet} ({place}) mất mấy chiếc xe máy đậu trước nhà, đề nghị tăng cường tuần tra ban đêm.",)),
    P("nha-van-hoa", "van-hoa-xa-hoi", 2, ALL,
      ("Nhà văn hóa {hamlet} dột mái",),
      ("Nhà văn hóa {hamlet} ({place}) mái tôn dột, không thể tổ chức sinh hoạt cộng đồng khi trời mưa.",)),
    P("tro-cap", "van-hoa-xa-hoi", 2, ALL,
      ("Chậm chi trả trợ cấp người cao tuổi ở {place}",),
      ("Mẹ tôi thuộc diện hưởng trợ cấp người cao tuổi tại {place} nhưng đã {days} ngày chưa được chi trả.",)),
    P("tre-hen", "hanh-chinh-cong", 3, ALL,
      ("Hồ sơ hộ kinh doanh trễ hẹn {days} ngày",),
      ("Hồ sơ đăng ký hộ kinh doanh nộp tại bộ phận một cửa {place} đã trễ hẹn {days} ngày mà không có văn bản xin lỗi.",)),
    P("dvc-loi", "hanh-chinh-cong", 2, ALL,
      ("Cổng dịch vụ công báo lỗi ở bước thanh toán", "Không nộp được hồ sơ trực tuyến sau {days} lần thử"),
      ("Tôi ở {place}, nộp hồ sơ trực tuyến nhưng hệ thống báo lỗi ở bước thanh toán phí, thử {days} lần vẫn không được.",)),
    P("gia-mi", "kinh-te", 2, (1, 2, 3),
      ("Giá mì giảm mạnh, nông dân {place} cần hỗ trợ tiêu thụ",),
      ("Nông dân {hamlet} ({place}) đang thu hoạch mì nhưng giá giảm mạnh, đề nghị hỗ trợ kết nối tiêu thụ.",)),
    P("cho-tet", "kinh-te", 2, (1, 2),
      ("Chợ Tết họp tràn ra {road}",),
      ("Những ngày giáp Tết, chợ gần {landmark} ({place}) họp tràn ra {road}, ùn tắc kéo dài.",)),
    P("cho-tha-rong", "khac", 2, ALL,
      ("Chó thả rông không rọ mõm ở {hamlet}",),
      ("Nhiều hộ ở {hamlet} ({place}) thả chó ra đường không rọ mõm, đã có trẻ em bị cắn.",)),
    # ideas (hiến kế), each in the field it belongs to
    P("y-xe-buyt", "giao-thong", 3, ALL,
      ("Đề xuất tuyến xe buýt từ {place} đến khu công nghiệp",),
      ("Đề xuất mở tuyến xe buýt từ {place} đến khu công nghiệp vào giờ đi làm và tan ca, "
       "giảm xe máy trên {road} và giảm tai nạn.",), idea=True),
    P("y-cay-xanh", "xay-dung-do-thi", 3, RAINY,
      ("Đề xuất trồng cây xanh dọc {road}",),
      ("Tôi đề xuất trồng thêm cây xanh dọc {road} ({place}) để có bóng mát, trồng đầu mùa mưa cho cây dễ sống.",),
      idea=True),
    P("y-phan-loai-rac", "moi-truong", 3, ALL,
      ("Hiến kế phân loại rác tại nguồn ở {place}",),
      ("Đề nghị phát túi phân loại rác cho các hộ ở {place} và thu gom rác tái chế theo lịch cố định.",), idea=True),
    P("y-qr-cho", "kinh-te", 2, ALL,
      ("Đề xuất thanh toán bằng mã QR tại chợ {place}",),
      ("Đề nghị hỗ trợ tiểu thương chợ {place} dùng mã QR để thanh toán, thuận tiện cho người mua.",), idea=True),
    P("y-san-choi", "van-hoa-xa-hoi", 2, (5, 6, 7),
      ("Đề xuất sân chơi hè cho thiếu nhi ở nhà văn hóa {hamlet}",),
      ("Đề xuất tận dụng khuôn viên nhà văn hóa {hamlet} ({place}) làm sân chơi an toàn cho thiếu nhi dịp hè.",),
      idea=True),
    P("y-den-nang-luong", "dien", 2, ALL,
      ("Đề xuất đèn năng lượng mặt trời cho đường {hamlet}",),
      ("Đường vào {hamlet} ({place}) còn tối, có thể lắp đèn năng lượng mặt trời với chi phí thấp.",), idea=True),
]


@dataclass
class Story:
    """One generated report, before it meets the database."""

    problem: str
    type: str                   # "pakn" | "idea"
    field: str
    title: str
    content: str
    address: str
    ward_code: int              # the current ward the report is about
    legacy_place: str | None    # the former district it names instead (reports before 1 July 2025)
    submitted_at: datetime
    final: str                  # the status the workflow walk aims at


# Final status weights by age: the last week is mostly still waiting; the last two months are
# being handled; anything older has an outcome.
STATUS_BY_AGE = [
    (timedelta(days=7), [("pending", 35), ("accepted", 20), ("processing", 30), ("answered", 8),
                         ("rejected", 4), ("duplicate", 3)]),
    (OPEN_FOR_AT_MOST, [("pending", 6), ("accepted", 8), ("processing", 34), ("answered", 34),
                        ("closed", 10), ("rejected", 5), ("duplicate", 3)]),
    (timedelta(days=365 * 100), [("answered", 50), ("closed", 35), ("rejected", 10), ("duplicate", 5)]),
]
CLOSED_STATUSES = {"answered", "closed", "rejected", "duplicate"}
_DOUBLED = re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE)


def doubled_word(text: str) -> str | None:
    """The first word written twice in a row ("Đường Đường"), or None."""
    m = _DOUBLED.search(text)
    return m.group(0) if m else None


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _submitted(rng: random.Random, problem: Problem) -> datetime:
    """A moment in the demo period in one of the problem's months (Vietnam time)."""
    for _ in range(50):
        # More reports lately (the portal gained users): half spread evenly, half denser lately.
        share = rng.random() if rng.random() < 0.5 else 1 - (1 - rng.random()) ** 0.5
        moment = DEMO_UNTIL - timedelta(days=365 * DEMO_YEARS * share)
        if (moment + timedelta(hours=7)).month in problem.months:
            return moment.replace(microsecond=0)
    return moment.replace(microsecond=0)


def stories(count: int, seed: int, wards: list[tuple[int, str]],
            legacy: dict[str, set[int]]) -> list[Story]:
    """``count`` reports for the wards ``wards`` ((code, name)), deterministic for ``seed``.

    ``legacy`` is the crosswalk of the deployment's province(s): former district name → the
    current ward codes it became; a report before 1 July 2025 may name the former district its
    ward came from.
    """
    rng = random.Random(seed)
    by_ward: dict[int, list[str]] = {}
    for name, codes in sorted(legacy.items()):
        for code in codes:
            by_ward.setdefault(code, []).append(name)
    weights = [p.weight for p in PROBLEMS]
    out = []
    for _ in range(count):
        problem = rng.choices(PROBLEMS, weights)[0]
        code, ward_name = rng.choice(wards)
        submitted = _submitted(rng, problem)
        legacy_name = None
        if submitted < REORGANISED and by_ward.get(code) and rng.random() < LEGACY_SHARE:
            legacy_name = rng.choice(by_ward[code])
        place = _lower_first(legacy_name or ward_name)
        road = rng.choice(ROADS)
        fill = {"road": road, "Road": road[:1].upper() + road[1:], "place": place,
                "hamlet": rng.choice(QUARTERS if (legacy_name or ward_name).startswith(URBAN) else HAMLETS), "landmark": rng.choice(LANDMARKS),
                "n": rng.randint(2, 480), "days": rng.randint(3, 30), "hours": rng.randint(2, 5)}
        title = rng.choice(problem.titles).format(**fill)
        title = title[:1].upper() + title[1:]
        content = rng.choice(problem.contents).format(**fill)
        address = f"Số {fill['n']} {road}, {fill['hamlet']}, {legacy_name or ward_name}"
        age = DEMO_UNTIL - submitted
        statuses = next(weights for limit, weights in STATUS_BY_AGE if age <= limit)
        final = rng.choices([s for s, _ in statuses], [w for _, w in statuses])[0]
        out.append(Story(problem=problem.key, type="idea" if problem.idea else "pakn", field=problem.field,
                         title=title, content=content, address=address, ward_code=code,
                         legacy_place=legacy_name, submitted_at=submitted, final=final))
    return out
