package kpi

import s "github.com/storepulse/storepulse/internal/schema"

// Operand constructors, to keep the table below readable.
func sum(meas string, fields ...string) Operand {
	o := Operand{}
	for _, f := range fields {
		o.Terms = append(o.Terms, Term{Measurement: meas, Field: f, Sign: 1})
	}
	return o
}

func minus(o Operand, meas, field string) Operand {
	o.Terms = append(o.Terms, Term{Measurement: meas, Field: field, Sign: -1})
	return o
}

func distinct(kind string) Operand { return Operand{Distinct: kind} }

func ptr(o Operand) *Operand { return &o }

// Areas of the glossary.
const (
	AreaUsers       = "users"
	AreaRevenue     = "revenue"
	AreaEngagement  = "engagement"
	AreaService     = "service"
	AreaAfterSales  = "after-sales"
	AreaMarketing   = "marketing"
	AreaMarket      = "market"
	AreaRhythm      = "rhythm"
	AreaProducts    = "products"
	AreaOperational = "operational"
)

// Definitions is the catalog: every KPI of the glossary in shared/MISSION.md.
func Definitions() []KPI {
	paid := sum(s.MeasPayments, s.FieldPaidAmount)
	// Paid orders are orders with at least one payment, each counted once:
	// the distinct order ids of the payments (an order paid in several
	// parts, voucher plus card, sends several payment events).
	paidOrders := distinct(s.KindPaidOrder)
	return []KPI{
		// users
		{ID: "new_users", Name: "New users", NameZH: "新用户数", Area: AreaUsers, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Sign-ups in the window.", Num: sum(s.MeasUsers, s.FieldSignups)},
		{ID: "total_users", Name: "Total users", NameZH: "累计用户数", Area: AreaUsers, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindCumulative,
			Description: "Cumulative sign-ups at the end of each bucket.", Num: sum(s.MeasUsers, s.FieldSignups)},
		{ID: "active_users", Name: "Active users", NameZH: "活跃用户数", Area: AreaUsers, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindDistinct,
			Description: "Distinct users with any activity (sign-up, session, order, payment, consultation); DAU, WAU or MAU with a day, week or month interval.",
			Num:         distinct(s.KindActive)},
		{ID: "stickiness", Name: "Stickiness", NameZH: "用户黏性", Area: AreaUsers, Unit: UnitPercent, Direction: HigherIsBetter, Kind: KindStickiness,
			Description: "Average daily active users divided by the active users of the whole bucket (DAU/MAU with a month interval). Needs an interval of at least a day.",
			Num:         distinct(s.KindActive)},
		// revenue
		{ID: "gmv", Name: "GMV", NameZH: "GMV（成交总额）", Area: AreaRevenue, Unit: UnitCurrency, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Value of the orders placed.", Num: sum(s.MeasOrders, s.FieldGMV)},
		{ID: "paid_revenue", Name: "Paid revenue", NameZH: "支付金额", Area: AreaRevenue, Unit: UnitCurrency, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Amount paid.", Num: paid},
		{ID: "net_revenue", Name: "Net revenue", NameZH: "净收入", Area: AreaRevenue, Unit: UnitCurrency, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Amount paid minus amount refunded.", Num: minus(paid, s.MeasRefunds, s.FieldRefundAmount)},
		{ID: "orders", Name: "Orders", NameZH: "订单数", Area: AreaRevenue, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Orders placed.", Num: sum(s.MeasOrders, s.FieldOrders)},
		{ID: "paid_orders", Name: "Paid orders", NameZH: "支付订单数", Area: AreaRevenue, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindDistinct,
			Description: "Orders with at least one payment, each counted once however many parts it was paid in (distinct order ids of the payments).",
			Num:         paidOrders},
		{ID: "payments", Name: "Payments", NameZH: "支付笔数", Area: AreaRevenue, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Payment events: each part of an order paid in several parts counts (count orders with paid orders). Exact to the minute, for alerts on payment outages.",
			Num:         sum(s.MeasPayments, s.FieldPaidOrders)},
		{ID: "items_sold", Name: "Items ordered", NameZH: "下单件数", Area: AreaRevenue, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Items in the orders placed.", Num: sum(s.MeasOrders, s.FieldItems)},
		{ID: "buyers", Name: "Buyers", NameZH: "下单买家数", Area: AreaRevenue, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindDistinct,
			Description: "Distinct users who placed an order.", Num: distinct(s.KindBuyer)},
		{ID: "paying_buyers", Name: "Paying buyers", NameZH: "支付买家数", Area: AreaRevenue, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindDistinct,
			Description: "Distinct users who paid.", Num: distinct(s.KindPayer)},
		{ID: "aov", Name: "AOV", NameZH: "客单价", Area: AreaRevenue, Unit: UnitCurrency, Direction: HigherIsBetter, Kind: KindRatio,
			Description: "Average order value: GMV / orders.", Num: sum(s.MeasOrders, s.FieldGMV), Den: ptr(sum(s.MeasOrders, s.FieldOrders))},
		{ID: "arpu", Name: "ARPU", NameZH: "ARPU（人均收入）", Area: AreaRevenue, Unit: UnitCurrency, Direction: HigherIsBetter, Kind: KindRatio,
			Description: "Average revenue per user: paid revenue / active users.", Num: paid, Den: ptr(distinct(s.KindActive))},
		{ID: "arppu", Name: "ARPPU", NameZH: "ARPPU（付费用户人均收入）", Area: AreaRevenue, Unit: UnitCurrency, Direction: HigherIsBetter, Kind: KindRatio,
			Description: "Average revenue per paying user: paid revenue / paying buyers.", Num: paid, Den: ptr(distinct(s.KindPayer))},
		{ID: "conversion_rate", Name: "Conversion rate", NameZH: "转化率", Area: AreaRevenue, Unit: UnitPercent, Direction: HigherIsBetter, Kind: KindRatio, Share: true,
			Description: "Distinct buyers / distinct visitors.", Num: distinct(s.KindBuyer), Den: ptr(distinct(s.KindVisitor))},
		{ID: "order_conversion_rate", Name: "Order conversion rate", NameZH: "下单转化率", Area: AreaRevenue, Unit: UnitPercent, Direction: HigherIsBetter, Kind: KindRatio, Share: true,
			Description: "Orders / sessions.", Num: sum(s.MeasOrders, s.FieldOrders), Den: ptr(sum(s.MeasTraffic, s.FieldSessions))},
		{ID: "payment_conversion", Name: "Payment conversion", NameZH: "支付转化率", Area: AreaRevenue, Unit: UnitPercent, Direction: HigherIsBetter, Kind: KindRatio, Share: true,
			Description: "Paid orders / orders placed: collapses when payments fail while orders keep coming. An order paid in several parts counts once; paid orders count by payment time, so a bucket can exceed 1 when orders placed before it are paid in it.",
			Num:         paidOrders, Den: ptr(sum(s.MeasOrders, s.FieldOrders))},
		{ID: "new_buyers", Name: "New buyers", NameZH: "新买家数", Area: AreaRevenue, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindDistinct,
			Description: "Distinct users who placed a new customer's order.", Num: distinct(s.KindBuyerNew)},
		{ID: "returning_buyers", Name: "Returning buyers", NameZH: "老买家数", Area: AreaRevenue, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindDistinct,
			Description: "Distinct users who placed a returning customer's order.", Num: distinct(s.KindBuyerReturning)},
		{ID: "gmv_new", Name: "GMV from new customers", NameZH: "新客 GMV", Area: AreaRevenue, Unit: UnitCurrency, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Value of new customers' orders.", Num: sum(s.MeasOrders, s.FieldGMVNew)},
		{ID: "gmv_returning", Name: "GMV from returning customers", NameZH: "老客 GMV", Area: AreaRevenue, Unit: UnitCurrency, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Value of returning customers' orders.", Num: sum(s.MeasOrders, s.FieldGMVReturning)},
		{ID: "repeat_purchase_rate", Name: "Repeat purchase rate", NameZH: "复购率", Area: AreaRevenue, Unit: UnitPercent, Direction: HigherIsBetter, Kind: KindRatio, Share: true,
			Description: "Share of orders placed by returning customers.", Num: sum(s.MeasOrders, s.FieldOrdersReturning), Den: ptr(sum(s.MeasOrders, s.FieldOrders))},
		// engagement
		{ID: "sessions", Name: "Sessions", NameZH: "访问次数", Area: AreaEngagement, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Sessions.", Num: sum(s.MeasTraffic, s.FieldSessions)},
		{ID: "visitors", Name: "Visitors", NameZH: "访客数", Area: AreaEngagement, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindDistinct,
			Description: "Distinct session visitors.", Num: distinct(s.KindVisitor)},
		{ID: "page_views", Name: "Page views", NameZH: "浏览量", Area: AreaEngagement, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Page views.", Num: sum(s.MeasTraffic, s.FieldPageViews)},
		{ID: "pv_per_session", Name: "PV per session", NameZH: "每次访问浏览量", Area: AreaEngagement, Unit: UnitRatio, Direction: HigherIsBetter, Kind: KindRatio,
			Description: "Page views / sessions.", Num: sum(s.MeasTraffic, s.FieldPageViews), Den: ptr(sum(s.MeasTraffic, s.FieldSessions))},
		{ID: "avg_session_duration", Name: "Average session duration", NameZH: "平均访问时长", Area: AreaEngagement, Unit: UnitSeconds, Direction: HigherIsBetter, Kind: KindRatio,
			Description: "Total session duration / sessions.", Num: sum(s.MeasTraffic, s.FieldSessionDurationS), Den: ptr(sum(s.MeasTraffic, s.FieldSessions))},
		{ID: "add_to_cart_rate", Name: "Add-to-cart rate", NameZH: "加购率", Area: AreaEngagement, Unit: UnitPercent, Direction: HigherIsBetter, Kind: KindRatio, Share: true,
			Description: "Sessions that added to the cart / sessions.", Num: sum(s.MeasTraffic, s.FieldCartSessions), Den: ptr(sum(s.MeasTraffic, s.FieldSessions))},
		{ID: "cart_abandonment", Name: "Cart abandonment", NameZH: "购物车放弃率", Area: AreaEngagement, Unit: UnitPercent, Direction: LowerIsBetter, Kind: KindRatio, Share: true, Complement: true,
			Description: "1 − orders / sessions with a cart.", Num: sum(s.MeasOrders, s.FieldOrders), Den: ptr(sum(s.MeasTraffic, s.FieldCartSessions))},
		// service
		{ID: "consultations", Name: "Consultations", NameZH: "咨询数", Area: AreaService, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Customer-service consultations.", Num: sum(s.MeasService, s.FieldConsultations)},
		{ID: "consultation_conversion", Name: "Consultation conversion", NameZH: "咨询转化率", Area: AreaService, Unit: UnitPercent, Direction: HigherIsBetter, Kind: KindRatio, Share: true,
			Description: "Consultations followed by an order / consultations.", Num: sum(s.MeasService, s.FieldConsultationsConverted), Den: ptr(sum(s.MeasService, s.FieldConsultations))},
		{ID: "first_response_time", Name: "First response time", NameZH: "首次响应时间", Area: AreaService, Unit: UnitSeconds, Direction: LowerIsBetter, Kind: KindRatio,
			Description: "Average first response time of consultations.", Num: sum(s.MeasService, s.FieldFirstResponseS), Den: ptr(sum(s.MeasService, s.FieldConsultations))},
		{ID: "after_sales_tickets", Name: "After-sales tickets", NameZH: "售后工单数", Area: AreaService, Unit: UnitCount, Direction: LowerIsBetter, Kind: KindSum,
			Description: "After-sales tickets opened.", Num: sum(s.MeasTickets, s.FieldTicketsOpened)},
		{ID: "tickets_resolved", Name: "Tickets resolved", NameZH: "已解决工单数", Area: AreaService, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "After-sales tickets resolved.", Num: sum(s.MeasTickets, s.FieldTicketsResolved)},
		{ID: "resolution_time", Name: "Resolution time", NameZH: "解决时长", Area: AreaService, Unit: UnitSeconds, Direction: LowerIsBetter, Kind: KindRatio,
			Description: "Average time to resolve an after-sales ticket.", Num: sum(s.MeasTickets, s.FieldResolutionS), Den: ptr(sum(s.MeasTickets, s.FieldTicketsResolved))},
		// after-sales
		{ID: "refunds", Name: "Refunds", NameZH: "退款笔数", Area: AreaAfterSales, Unit: UnitCount, Direction: LowerIsBetter, Kind: KindSum,
			Description: "Refunds.", Num: sum(s.MeasRefunds, s.FieldRefunds)},
		{ID: "refund_amount", Name: "Refund amount", NameZH: "退款金额", Area: AreaAfterSales, Unit: UnitCurrency, Direction: LowerIsBetter, Kind: KindSum,
			Description: "Amount refunded.", Num: sum(s.MeasRefunds, s.FieldRefundAmount)},
		{ID: "refund_rate", Name: "Refund rate", NameZH: "退款率", Area: AreaAfterSales, Unit: UnitPercent, Direction: LowerIsBetter, Kind: KindRatio,
			Description: "Refunded amount / paid amount. A day with refunds but no payments has no refund rate (null, not 0 or +Inf): see the refund amount.", Num: sum(s.MeasRefunds, s.FieldRefundAmount), Den: ptr(paid)},
		{ID: "refund_count_rate", Name: "Refund rate (count)", NameZH: "退款率（笔数）", Area: AreaAfterSales, Unit: UnitPercent, Direction: LowerIsBetter, Kind: KindRatio, Share: true,
			Description: "Refunds / paid orders (null when there are no paid orders; a partial refund is one refund).", Num: sum(s.MeasRefunds, s.FieldRefunds), Den: ptr(paidOrders)},
		// marketing
		{ID: "impressions", Name: "Impressions", NameZH: "曝光量", Area: AreaMarketing, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Impressions of banners, pushes and SMS.", Num: sum(s.MeasMarketing, s.FieldImpressions)},
		{ID: "clicks", Name: "Clicks", NameZH: "点击量", Area: AreaMarketing, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Clicks on banners, pushes and SMS.", Num: sum(s.MeasMarketing, s.FieldClicks)},
		{ID: "ctr", Name: "CTR", NameZH: "点击率", Area: AreaMarketing, Unit: UnitPercent, Direction: HigherIsBetter, Kind: KindRatio, Share: true,
			Description: "Click-through rate: clicks / impressions.", Num: sum(s.MeasMarketing, s.FieldClicks), Den: ptr(sum(s.MeasMarketing, s.FieldImpressions))},
		{ID: "marketing_conversions", Name: "Marketing conversions", NameZH: "营销转化数", Area: AreaMarketing, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Conversions attributed to marketing.", Num: sum(s.MeasMarketing, s.FieldConversions)},
		{ID: "marketing_conversion_rate", Name: "Marketing conversion rate", NameZH: "营销转化率", Area: AreaMarketing, Unit: UnitPercent, Direction: HigherIsBetter, Kind: KindRatio, Share: true,
			Description: "Conversions / clicks.", Num: sum(s.MeasMarketing, s.FieldConversions), Den: ptr(sum(s.MeasMarketing, s.FieldClicks))},
		{ID: "spend", Name: "Marketing spend", NameZH: "营销花费", Area: AreaMarketing, Unit: UnitCurrency, Direction: LowerIsBetter, Kind: KindSum,
			Description: "Marketing spend.", Num: sum(s.MeasMarketing, s.FieldSpend)},
		{ID: "roas", Name: "ROAS", NameZH: "ROAS（广告支出回报率）", Area: AreaMarketing, Unit: UnitRatio, Direction: HigherIsBetter, Kind: KindRatio,
			Description: "Return on ad spend: conversion value / spend.", Num: sum(s.MeasMarketing, s.FieldConversionValue), Den: ptr(sum(s.MeasMarketing, s.FieldSpend))},
		{ID: "cac", Name: "CAC", NameZH: "获客成本", Area: AreaMarketing, Unit: UnitCurrency, Direction: LowerIsBetter, Kind: KindRatio,
			Description: "Customer acquisition cost: spend / conversions.", Num: sum(s.MeasMarketing, s.FieldSpend), Den: ptr(sum(s.MeasMarketing, s.FieldConversions))},
		// market
		{ID: "price_index", Name: "Price index", NameZH: "价格指数", Area: AreaMarket, Unit: UnitRatio, Direction: LowerIsBetter, Kind: KindRatio, EitherWay: true,
			Description: "Own price / competitor price over the price observations (group by category or competitor).",
			Num:         sum(s.MeasPrices, s.FieldOwnPrice), Den: ptr(sum(s.MeasPrices, s.FieldCompetitorPrice))},
		// rhythm and products: transforms
		{ID: "campaign_uplift", Name: "Campaign uplift", NameZH: "活动提升", Area: AreaRhythm, Unit: UnitPercent, Direction: HigherIsBetter, Kind: KindTransform,
			Description: "A KPI during a campaign against its baseline.",
			Note:        "the uplift transform applied to a sum or ratio KPI (e.g. gmv with uplift: {}): a table of campaigns with the KPI per day during each campaign, its baseline over the days before (other campaigns left out) and uplift = during / baseline − 1, see query.md#uplift"},
		{ID: "lifecycle_stage", Name: "Life-cycle stage", NameZH: "生命周期阶段", Area: AreaProducts, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindTransform,
			Description: "Introduction, growth, maturity or decline of a category, from its sales trend.",
			Note:        "the life-cycle transform applied to GMV by category (the same as gmv with lifecycle: true grouped by category): a table of stages, see query.md#life-cycle"},
		// operational
		{ID: "events_received", Name: "Events received", NameZH: "接收事件数", Area: AreaOperational, Unit: UnitCount, Direction: HigherIsBetter, Kind: KindSum,
			Description: "Events accepted by the ingest service: zero means a store stopped sending.", Num: sum(s.MeasIngest, s.FieldEvents)},
	}
}
