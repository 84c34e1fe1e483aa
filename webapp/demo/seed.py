"""Deterministic, realistic Vietnamese demo data: units, staff accounts, reports and ideas."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from indexer.text import fold
from webapp.auth.models import Membership, Role, RoleName, Unit, User, UserKind, UserStatus
from webapp.demo.stories import DEMO_UNTIL, DEMO_YEARS, Story, stories  # noqa: F401 (DEMO_* re-exported)
from webapp.extensions import db
from webapp.reference.models import Field, LegacyPlace, Province, Ward
from webapp.reports.codes import new_code
from webapp.reports.models import (
    Answer,
    AnswerState,
    AnswerTemplate,
    Assignment,
    Report,
    ReportType,
    SenderKind,
    Status,
    StatusEvent,
)
from webapp.workflow.deadlines import Holidays, add_working_days

# Demo-only credentials, printed by the command and listed in the README. Never use in production.
# The unit is None for the intake unit, else a key of FIELD_UNITS whose unit the account belongs to.
DEMO_STAFF = [
    ("canbo", "Nguyễn Thị Thu Hà", RoleName.OFFICER, "canbo-demo-2026", None),
    ("lanhdao", "Trần Quốc Bảo", RoleName.LEADER, "lanhdao-demo-2026", None),
    ("xuly", "Phạm Văn Tâm", RoleName.OFFICER, "xuly-demo-2026", "giao-thong"),
    ("lanhdaoxd", "Võ Thị Mai", RoleName.LEADER, "lanhdaoxd-demo-2026", "giao-thong"),
    ("quantri", "Lê Minh Khôi", RoleName.ADMIN, "quantri-demo-2026", None),
]
VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

INTAKE_UNIT = "Trung tâm Phục vụ hành chính công {province}"
FIELD_UNITS = {
    "giao-thong": "Sở Xây dựng {province}",
    "xay-dung-do-thi": "Sở Xây dựng {province}",
    "moi-truong": "Sở Nông nghiệp và Môi trường {province}",
    "dat-dai": "Sở Nông nghiệp và Môi trường {province}",
    "dien": "Công ty Điện lực {province}",
    "cap-thoat-nuoc": "Công ty Cấp thoát nước {province}",
    "y-te": "Sở Y tế {province}",
    "giao-duc": "Sở Giáo dục và Đào tạo {province}",
    "an-ninh-trat-tu": "Công an {province}",
    "van-hoa-xa-hoi": "Sở Văn hóa, Thể thao và Du lịch {province}",
    "hanh-chinh-cong": "Văn phòng UBND {province}",
    "kinh-te": "Sở Tài chính {province}",
    "khac": "Văn phòng UBND {province}",
}

# The reports themselves are written by webapp/demo/stories.py. These older flat templates are
# kept for bench/common.py's synthetic documents only; {street}, {ward}, {n}, {days} are filled in.
PAKN_TEMPLATES = {
    "giao-thong": [
        ("Đường {street} xuống cấp, nhiều ổ gà", "Đoạn đường {street} gần số {n} có nhiều ổ gà sâu, trời mưa đọng nước rất nguy hiểm cho người đi xe máy. Đề nghị cơ quan chức năng sớm sửa chữa."),
        ("Đèn tín hiệu giao thông ngã tư {street} không hoạt động", "Đèn tín hiệu tại ngã tư {street} đã tắt {days} ngày nay, giờ cao điểm thường xuyên ùn tắc, nguy cơ tai nạn cao."),
        ("Xe tải chạy quá tốc độ trên đường {street}", "Buổi tối nhiều xe tải chạy rất nhanh qua khu dân cư trên đường {street}, {ward}. Đề nghị lắp biển hạn chế tốc độ và gờ giảm tốc."),
        ("Lấn chiếm lòng đường {street} để buôn bán", "Nhiều hộ kinh doanh bày hàng tràn xuống lòng đường {street}, người đi bộ phải đi xuống lòng đường, rất mất an toàn."),
    ],
    "moi-truong": [
        ("Rác thải tồn đọng tại {street}", "Bãi rác tự phát ở {street}, {ward} đã tồn đọng hơn {days} ngày chưa được thu gom, bốc mùi hôi thối ảnh hưởng sức khỏe người dân."),
        ("Cơ sở sản xuất xả khói gây ô nhiễm", "Một cơ sở sản xuất gần số {n} đường {street} thường xuyên xả khói đen vào ban đêm, người dân xung quanh bị ho và khó thở."),
        ("Nước thải chảy ra kênh gây ô nhiễm", "Nước thải màu đen chảy ra kênh gần {street} khiến cá chết hàng loạt, đề nghị kiểm tra nguồn xả thải."),
        ("Tiếng ồn từ quán karaoke sau 22 giờ", "Quán karaoke ở số {n} đường {street} hát đến khuya, gây tiếng ồn ảnh hưởng việc nghỉ ngơi của người dân."),
    ],
    "dat-dai": [
        ("Chậm cấp giấy chứng nhận quyền sử dụng đất", "Tôi nộp hồ sơ cấp giấy chứng nhận quyền sử dụng đất tại {ward} đã quá hạn {days} ngày nhưng chưa nhận được kết quả."),
        ("Tranh chấp ranh giới đất với hộ liền kề", "Hộ liền kề xây tường lấn sang phần đất của gia đình tôi tại số {n} {street}. Đề nghị địa phương đo đạc và giải quyết."),
        ("Đề nghị công khai quy hoạch sử dụng đất", "Người dân {ward} chưa được tiếp cận bản đồ quy hoạch sử dụng đất mới, đề nghị niêm yết công khai tại trụ sở."),
    ],
    "xay-dung-do-thi": [
        ("Công trình xây dựng không che chắn", "Công trình tại số {n} đường {street} không có lưới che chắn, vật liệu rơi xuống đường gây nguy hiểm cho người qua lại."),
        ("Xây dựng sai phép tại {street}", "Công trình nhà ở tại {street}, {ward} xây vượt số tầng được cấp phép, đề nghị kiểm tra."),
        ("Vỉa hè bị đào bới không hoàn trả", "Vỉa hè đường {street} bị đào để lắp đặt đường ống đã {days} ngày nhưng chưa được hoàn trả mặt bằng."),
    ],
    "dien": [
        ("Mất điện kéo dài không báo trước", "Khu vực {street}, {ward} bị mất điện từ sáng đến chiều mà không có thông báo trước, ảnh hưởng sinh hoạt và kinh doanh."),
        ("Đèn chiếu sáng công cộng hư hỏng", "Hệ thống đèn chiếu sáng trên đường {street} hư hỏng nhiều bóng, buổi tối rất tối, tiềm ẩn nguy cơ mất an ninh."),
        ("Dây điện võng thấp nguy hiểm", "Dây điện trước số {n} đường {street} võng thấp, xe tải đi qua có thể vướng, đề nghị ngành điện kiểm tra."),
    ],
    "cap-thoat-nuoc": [
        ("Đường {street} ngập nước sau mưa", "Mỗi khi mưa lớn, đoạn đường {street} trước số {n} ngập sâu 30-40 cm, nước tràn vào nhà dân do cống thoát nước bị tắc."),
        ("Nước sinh hoạt có mùi lạ", "Nước máy tại {ward} mấy ngày nay có màu vàng và mùi lạ, người dân không dám sử dụng để nấu ăn."),
        ("Vỡ đường ống cấp nước", "Đường ống cấp nước trên đường {street} bị vỡ, nước chảy lênh láng ra đường {days} ngày chưa được sửa."),
        ("Nắp cống bị mất gây nguy hiểm", "Nắp cống trước số {n} đường {street} bị mất, người đi đường có thể sụp xuống, nhất là vào ban đêm."),
    ],
    "y-te": [
        ("Thái độ phục vụ chưa tốt tại trạm y tế", "Nhân viên trạm y tế {ward} có thái độ thiếu niềm nở khi người dân đến tiêm chủng cho trẻ."),
        ("Cơ sở kinh doanh thực phẩm không bảo đảm vệ sinh", "Quán ăn ở số {n} đường {street} chế biến thực phẩm ngay cạnh cống rãnh, đề nghị kiểm tra an toàn thực phẩm."),
        ("Phun thuốc phòng chống sốt xuất huyết", "Khu phố gần {street} có nhiều ca sốt xuất huyết, đề nghị tổ chức phun thuốc diệt muỗi."),
    ],
    "giao-duc": [
        ("Lạm thu đầu năm học", "Trường học trên đường {street} thu nhiều khoản ngoài quy định vào đầu năm học, phụ huynh rất bức xúc."),
        ("Thiếu phòng học cho học sinh", "Trường tiểu học tại {ward} phải học ca ba vì thiếu phòng học, đề nghị bổ sung cơ sở vật chất."),
        ("Cổng trường ùn tắc giờ tan học", "Giờ tan học, phụ huynh đậu xe kín đường {street} trước cổng trường gây ùn tắc nghiêm trọng."),
    ],
    "an-ninh-trat-tu": [
        ("Tụ tập đua xe trái phép ban đêm", "Nhóm thanh niên thường tụ tập đua xe trên đường {street} sau 23 giờ, gây mất an ninh trật tự."),
        ("Trộm cắp tài sản tại khu dân cư", "Gần đây khu dân cư {ward} xảy ra nhiều vụ mất trộm xe máy, đề nghị tăng cường tuần tra."),
        ("Cho vay nặng lãi dán quảng cáo", "Nhiều tờ rơi cho vay nặng lãi được dán trên cột điện đường {street}, đề nghị xử lý."),
    ],
    "van-hoa-xa-hoi": [
        ("Đề nghị sửa chữa nhà văn hóa khu phố", "Nhà văn hóa khu phố tại {ward} xuống cấp, mái tôn dột, không thể tổ chức sinh hoạt cộng đồng."),
        ("Chậm chi trả trợ cấp cho người cao tuổi", "Mẹ tôi thuộc diện hưởng trợ cấp người cao tuổi tại {ward} nhưng đã {days} ngày chưa được chi trả."),
        ("Quảng cáo sai quy định trên cột điện", "Nhiều bảng quảng cáo được treo trên cây xanh và cột điện dọc đường {street}, gây mất mỹ quan."),
    ],
    "hanh-chinh-cong": [
        ("Hồ sơ trễ hẹn tại bộ phận một cửa", "Hồ sơ đăng ký hộ kinh doanh nộp tại bộ phận một cửa {ward} đã trễ hẹn {days} ngày mà không có văn bản xin lỗi."),
        ("Cổng dịch vụ công trực tuyến lỗi khi nộp hồ sơ", "Tôi không thể nộp hồ sơ trực tuyến vì hệ thống báo lỗi ở bước thanh toán phí."),
        ("Yêu cầu bổ sung giấy tờ không đúng quy định", "Cán bộ tiếp nhận yêu cầu nộp thêm bản sao có chứng thực dù thủ tục không quy định."),
    ],
    "kinh-te": [
        ("Chợ tạm lấn chiếm đường {street}", "Chợ tạm họp trên đường {street} từ sáng sớm, đề nghị bố trí địa điểm kinh doanh phù hợp."),
        ("Giá nông sản xuống thấp, đề nghị hỗ trợ tiêu thụ", "Nông dân tại {ward} đang gặp khó khăn do giá mì (sắn) giảm mạnh, đề nghị hỗ trợ kết nối tiêu thụ."),
    ],
    "khac": [
        ("Chó thả rông không rọ mõm", "Nhiều hộ dân thả chó ra đường {street} không rọ mõm, đã có trẻ em bị chó cắn."),
        ("Đề nghị lắp camera an ninh tại ngã ba", "Ngã ba gần số {n} đường {street} thường xảy ra va chạm, đề nghị lắp camera giám sát."),
    ],
}
IDEA_TEMPLATES = [
    ("Đề xuất trồng thêm cây xanh trên đường {street}", "Tôi đề xuất trồng thêm cây xanh dọc đường {street} để tạo bóng mát và cải thiện không khí cho khu dân cư {ward}."),
    ("Hiến kế phân loại rác tại nguồn", "Đề nghị phát túi phân loại rác cho các hộ dân ở {ward} và tổ chức thu gom rác tái chế theo lịch cố định."),
    ("Mở tuyến xe buýt kết nối khu công nghiệp", "Đề xuất mở tuyến xe buýt từ {ward} đến khu công nghiệp vào giờ đi làm và tan ca để giảm tai nạn giao thông."),
    ("Ứng dụng thanh toán không dùng tiền mặt tại chợ", "Đề nghị hỗ trợ tiểu thương chợ {ward} dùng mã QR để thanh toán, thuận tiện cho người mua."),
    ("Tổ chức sân chơi cho thiếu nhi dịp hè", "Đề xuất tận dụng khuôn viên nhà văn hóa {ward} làm sân chơi an toàn cho thiếu nhi trong dịp hè."),
    ("Lắp đèn năng lượng mặt trời cho đường nông thôn", "Các tuyến đường nông thôn ở {ward} còn tối, có thể lắp đèn năng lượng mặt trời với chi phí thấp."),
]
ANSWER_TEMPLATES = [
    "{unit} đã tiếp nhận phản ánh và cử cán bộ kiểm tra thực tế ngày {date}. Nội dung phản ánh là đúng; đơn vị đã phối hợp với UBND {ward} khắc phục xong. Cảm ơn người dân đã phản ánh.",
    "Qua kiểm tra, {unit} đã yêu cầu các bên liên quan khắc phục và sẽ tiếp tục theo dõi. Mọi vướng mắc xin liên hệ đường dây nóng của đơn vị để được hướng dẫn.",
    "{unit} trả lời: nội dung phản ánh đã được đưa vào kế hoạch xử lý, dự kiến hoàn thành trong tháng tới. UBND {ward} có trách nhiệm giám sát và báo cáo kết quả.",
]
REJECT_REASONS = [
    "Nội dung không thuộc thẩm quyền giải quyết của cơ quan hành chính; đề nghị liên hệ Tòa án nhân dân.",
    "Nội dung phản ánh chưa rõ địa điểm cụ thể; đề nghị gửi lại với thông tin chi tiết.",
]
STREETS = ["Cách Mạng Tháng Tám", "30 Tháng 4", "Trần Hưng Đạo", "Nguyễn Chí Thanh", "Điện Biên Phủ",
           "Lý Thường Kiệt", "Hùng Vương", "Nguyễn Văn Linh", "Trưng Nữ Vương", "Lạc Long Quân",
           "Quốc lộ 22", "Đường tỉnh 782", "Nguyễn Trãi", "Võ Thị Sáu", "Lê Lợi", "Tôn Đức Thắng",
           "Phạm Văn Đồng", "Hoàng Lê Kha", "Bời Lời", "Nguyễn Thái Học"]
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ",
          "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE_M = ["Văn", "Hữu", "Minh", "Quốc", "Đức", "Thanh", "Công"]
MIDDLE_F = ["Thị", "Ngọc", "Thu", "Kim", "Thanh", "Mỹ"]
GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khang", "Long", "Nam", "Phúc", "Quang",
           "Sơn", "Tâm", "Thắng", "Tuấn", "Vinh"]
GIVEN_F = ["Anh", "Chi", "Dung", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Nga", "Nhung",
           "Phương", "Thảo", "Trang", "Yến"]
ORGS = ["Công ty TNHH Thương mại Phú Thịnh", "Hợp tác xã Nông nghiệp Hòa Hiệp",
        "Công ty Cổ phần Xây dựng Trường Sơn", "Hội Doanh nghiệp trẻ", "Ban quản lý chợ trung tâm",
        "Công ty TNHH Vận tải Thành Công", "Trường Mầm non Hoa Sen"]
MOBILE_PREFIXES = ["032", "033", "034", "035", "036", "037", "038", "039", "070", "076", "077",
                   "078", "079", "081", "082", "083", "084", "085", "086", "088", "089", "090",
                   "091", "093", "094", "096", "097", "098"]
# weights of the final status
STATUS_WEIGHTS = [(Status.PENDING, 10), (Status.ACCEPTED, 8), (Status.REJECTED, 5),
                  (Status.DUPLICATE, 3), (Status.PROCESSING, 20), (Status.ANSWERED, 38),
                  (Status.CLOSED, 16)]


@dataclass
class Context:
    rng: random.Random
    fields: list[Field]
    wards: list[Ward]
    legacy: list[LegacyPlace]
    intake: Unit
    units_by_field: dict[str, Unit]
    officer: User
    leader: User
    holidays: Holidays


def _person(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE_M)} {rng.choice(GIVEN_M)}"
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE_F)} {rng.choice(GIVEN_F)}"


def _address(number: int, street: str, place: str) -> str:
    road = street if street.startswith(("Quốc lộ", "Đường")) else f"đường {street}"
    return f"Số {number} {road}, {place}"


def _unit(name: str, slug: str, parent: Unit | None = None, intake: bool = False) -> Unit:
    unit = db.session.scalar(select(Unit).where(Unit.slug == slug))
    if unit is None:
        unit = Unit(name=name, slug=slug, parent=parent, is_intake=intake)
        db.session.add(unit)
    return unit


def _slug(name: str) -> str:
    return "-".join(fold(name).replace(",", "").split())[:90]


def _ensure_staff(intake: Unit, units_by_field: dict[str, Unit], echo: Callable[[str], None]) -> tuple[User, User]:
    roles = {r.name: r for r in db.session.scalars(select(Role))}
    made: dict[str, User] = {}
    for username, name, role, password, field_unit in DEMO_STAFF:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, full_name=name, kind=UserKind.STAFF,
                        status=UserStatus.ACTIVE, password_hash=generate_password_hash(password))
            db.session.add(user)
            if role == RoleName.ADMIN:
                user.roles.append(roles[RoleName.ADMIN])
            else:
                unit = units_by_field[field_unit] if field_unit else intake
                user.memberships.append(Membership(unit=unit, role=roles[role]))
            echo(f"  Tài khoản cán bộ demo: {username} / {password} ({role}, "
                 f"{(units_by_field[field_unit] if field_unit else intake).name})")
        made[username] = user
    return made["canbo"], made["lanhdao"]


def _ensure_templates(units_by_field: dict[str, Unit]) -> None:
    """One answer template per field, for the answer form (only when none exist yet)."""
    if db.session.scalar(select(func.count()).select_from(AnswerTemplate)):
        return
    for fld in db.session.scalars(select(Field).order_by(Field.position)):
        # The answering unit and the report fill the placeholders (workflow.services.fill_template).
        db.session.add(AnswerTemplate(field=fld, title=f"Đã kiểm tra và khắc phục ({fld.name})", text=(
            "{don_vi} đã tiếp nhận phản ánh {ma_phan_anh} gửi ngày {ngay_tiep_nhan}, cử cán bộ kiểm tra thực tế "
            "ngày …/…/…. Kết quả: …\n"
            "Đơn vị đã phối hợp với UBND xã, phường khắc phục xong. Cảm ơn người dân đã phản ánh.")))


def seed(count: int, seed_value: int = 2026, if_empty: bool = False,
         echo: Callable[[str], None] = print,
         progress: Callable[[int], None] | None = None) -> int:
    """Create demo units, staff and ``count`` reports; returns the number of reports created.

    ``count == 0`` creates nothing at all, demo accounts included (PAKN_DEMO_REPORTS=0).
    """
    if count == 0:
        echo("Không tạo dữ liệu mẫu (số phản ánh mẫu = 0).")
        return 0
    existing = db.session.scalar(select(func.count()).select_from(Report)) or 0
    if if_empty and existing:
        echo(f"Cơ sở dữ liệu đã có {existing} phản ánh; bỏ qua dữ liệu mẫu.")
        return 0
    rng = random.Random(seed_value)
    codes = [int(c) for c in current_app.config["PROVINCES"]]
    provinces = db.session.scalars(select(Province).where(Province.code.in_(codes))).all()
    if not provinces:
        raise RuntimeError("Chưa có dữ liệu tỉnh/thành; hãy chạy `flask db upgrade` trước.")
    label = provinces[0].name
    echo(f"Tạo dữ liệu mẫu cho {', '.join(p.name for p in provinces)} (seed={seed_value}):")
    intake = _unit(INTAKE_UNIT.format(province=label), _slug(INTAKE_UNIT.format(province=label)),
                   intake=True)
    units_by_field = {}
    for slug, template in FIELD_UNITS.items():
        name = template.format(province=label)
        units_by_field[slug] = _unit(name, _slug(name))
    officer, leader = _ensure_staff(intake, units_by_field, echo)
    db.session.flush()
    _ensure_templates(units_by_field)

    ctx = Context(
        rng=rng,
        fields=db.session.scalars(select(Field).order_by(Field.position)).all(),
        wards=db.session.scalars(select(Ward).where(Ward.province_code.in_(codes))
                                 .order_by(Ward.code)).all(),
        legacy=db.session.scalars(select(LegacyPlace).where(LegacyPlace.province_code.in_(codes))
                                  .order_by(LegacyPlace.id)).all(),
        intake=intake, units_by_field=units_by_field, officer=officer, leader=leader,
        holidays=Holidays(current_app.config["HOLIDAYS"]))
    used_codes = set(db.session.scalars(select(Report.code)))
    crosswalk = {lp.name: {w.code for w in lp.wards} for lp in ctx.legacy if lp.kind == "district" and lp.wards}
    plans = stories(count, seed_value, [(w.code, w.name) for w in ctx.wards], crosswalk)
    wards = {w.code: w for w in ctx.wards}
    fields = {f.slug: f for f in ctx.fields}
    for i, plan in enumerate(plans):
        report = _report(ctx, used_codes, plan, wards[plan.ward_code], fields[plan.field])
        db.session.add(report)
        if (i + 1) % 500 == 0:
            db.session.commit()
        if progress:
            progress(1)
    db.session.commit()
    echo(f"Đã tạo {count} phản ánh/hiến kế mẫu.")
    return count


def _report(ctx: Context, used_codes: set[str], plan: Story, ward: Ward, fld: Field) -> Report:
    rng = ctx.rng
    submitted = plan.submitted_at
    report_type = ReportType.IDEA if plan.type == "idea" else ReportType.PAKN
    code = new_code(report_type, rng)
    while code in used_codes:
        code = new_code(report_type, rng)
    used_codes.add(code)
    org = rng.random() < 0.12
    name = _person(rng)
    place = plan.legacy_place or ward.name
    report = Report(
        code=code, type=report_type, title=plan.title, content=plan.content,
        field=fld, province_code=ward.province_code,
        # A report that names a former district keeps that name; the crosswalk places it.
        ward_code=None if plan.legacy_place else ward.code, legacy_place=plan.legacy_place,
        address=plan.address,
        sender_kind=SenderKind.ORGANIZATION if org else SenderKind.INDIVIDUAL,
        organization_name=rng.choice(ORGS) if org else None, sender_name=name,
        sender_phone=rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 9999999):07d}",
        sender_email=None if rng.random() < 0.6 else
        f"{_slug(name).replace('-', '.')}{rng.randint(1, 99)}@example.vn",
        sender_address=f"{place}, {ward.province.name}" if rng.random() < 0.5 else None,
        confidential=rng.random() < 0.1, submitted_at=submitted, created_at=submitted,
        status=Status.PENDING,
    )
    if rng.random() < 0.25:
        report.lat = round(11.3 + rng.uniform(-0.4, 0.4), 6)
        report.lon = round(106.1 + rng.uniform(-0.4, 0.4), 6)
        report.incident_at = submitted - timedelta(hours=rng.randint(1, 72))
    _timeline(ctx, report, Status(plan.final), submitted, place)
    return report


class _OutOfTimeError(Exception):
    """The next step would happen after the end of the demo period: the report stays where it is."""


def _timeline(ctx: Context, report: Report, final: Status, start: datetime, ward_name: str) -> None:
    """Walk the report through the workflow towards ``final``, recording each step.

    Recent reports stop early when the next step would fall after the demo period, so the data
    looks like a live system: old reports are answered, the newest are still being handled.
    """
    rng = ctx.rng
    events: list[StatusEvent] = []
    events.append(StatusEvent(from_status=None, to_status=Status.PENDING, note="Đã gửi", created_at=start))
    published = False
    try:
        published = _walk(ctx, report, final, start, ward_name, events)
    except _OutOfTimeError:
        published = report.status != Status.PENDING and rng.random() < 0.85
    report.events = events
    report.published = published
    report.published_at = events[1].created_at if published and len(events) > 1 else None
    report.updated_at = events[-1].created_at
    for answer in report.answers:
        answer.published_at = answer.answered_at if published else None


def _walk(ctx: Context, report: Report, final: Status, start: datetime, ward_name: str,
          events: list[StatusEvent]) -> bool:
    """Append the steps up to ``final``; returns whether the report is published."""
    rng = ctx.rng
    t = start

    def step(to: Status, note: str = "", actor: User | None = None, hours: tuple[int, int] = (2, 48)) -> None:
        nonlocal t
        nxt = t + timedelta(hours=rng.randint(*hours), minutes=rng.randint(0, 59))
        if nxt > DEMO_UNTIL:
            raise _OutOfTimeError
        t = nxt
        events.append(StatusEvent(from_status=report.status, to_status=to, note=note,
                                  actor=actor or ctx.officer, created_at=t))
        report.status = to

    published = False
    if final == Status.REJECTED:
        step(Status.REJECTED, rng.choice(REJECT_REASONS))
        published = rng.random() < 0.3
    elif final == Status.DUPLICATE:
        step(Status.DUPLICATE, "Nội dung trùng với phản ánh đã được tiếp nhận trước đó.")
    elif final != Status.PENDING:
        published = rng.random() < 0.85
        step(Status.ACCEPTED, "Đã tiếp nhận, chuyển đơn vị chuyên môn xử lý.")
        unit = ctx.units_by_field[report.field.slug]
        if final != Status.ACCEPTED:
            step(Status.PROCESSING, f"Giao {unit.name} xử lý.")
            due = add_working_days(t, report.field.deadline_days, ctx.holidays, str(VN_TZ))
            report.assignments.append(Assignment(unit=unit, deadline_at=due, assigned_by=ctx.officer, created_at=t))
            report.deadline_at = due
        if final in (Status.ANSWERED, Status.CLOSED):
            step(Status.ANSWERED, "Đã có văn bản trả lời.", ctx.leader, hours=(24, 24 * 20))
            text = rng.choice(ANSWER_TEMPLATES).format(
                unit=unit.name, ward=ward_name[:1].lower() + ward_name[1:],
                date=t.astimezone(VN_TZ).strftime("%d/%m/%Y"))
            report.answers.append(Answer(
                unit=unit, text=text, state=AnswerState.APPROVED, author=ctx.officer,
                approved_by=ctx.leader, answered_at=t, created_at=t))
        if final == Status.CLOSED:
            step(Status.CLOSED, "Người dân đồng ý với kết quả giải quyết.", hours=(24, 24 * 7))
    return published
