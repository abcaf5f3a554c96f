"""feed domain rules: collection overrides, brand-manager keys, application reviews

Revision ID: 0005_feed_domain_rules
Revises: 0004
Create Date: 2026-12-07 11:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005_feed_domain_rules'
down_revision = '0004'
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('feed-service', 'ingest', 'editor', 'admin')"
NEW_ROLES = "role IN ('feed-service', 'ingest', 'editor', 'admin', 'brand-manager')"
OLD_STATUSES = "status IN ('ops_review_pending', 'ineligible')"
NEW_STATUSES = "status IN ('ops_review_pending', 'ineligible', 'open', 'rejected')"


def upgrade() -> None:
    with op.batch_alter_table('collection_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('override_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('override_reason', sa.Text(), nullable=True))

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('circle_id', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_api_keys_circle_id_circles'), 'circles', ['circle_id'], ['id'],
            ondelete='CASCADE',
        )
        batch_op.drop_constraint(batch_op.f('ck_api_keys_role'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_api_keys_role'), sa.text(NEW_ROLES))

    with op.batch_alter_table('circle_applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('circle_id', sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_circle_applications_circle_id_circles'), 'circles', ['circle_id'],
            ['id'], ondelete='SET NULL',
        )
        batch_op.drop_constraint(batch_op.f('ck_circle_applications_status'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_circle_applications_status'), sa.text(NEW_STATUSES)
        )

    op.create_table('circle_application_reviews',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('reviewer', sa.String(length=100), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.CheckConstraint("decision IN ('pass', 'reject')", name=op.f('ck_circle_application_reviews_decision')),
    sa.ForeignKeyConstraint(['application_id'], ['circle_applications.id'], name=op.f('fk_circle_application_reviews_application_id_circle_applications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_circle_application_reviews')),
    sa.UniqueConstraint('application_id', 'reviewer', name='uq_circle_application_reviews_by')
    )
    with op.batch_alter_table('circle_application_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_circle_application_reviews_application_id'), ['application_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('circle_application_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_circle_application_reviews_application_id'))
    op.drop_table('circle_application_reviews')

    with op.batch_alter_table('circle_applications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_circle_applications_status'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_circle_applications_status'), sa.text(OLD_STATUSES)
        )
        batch_op.drop_constraint(
            batch_op.f('fk_circle_applications_circle_id_circles'), type_='foreignkey'
        )
        batch_op.drop_column('circle_id')

    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_api_keys_role'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_api_keys_role'), sa.text(OLD_ROLES))
        batch_op.drop_constraint(batch_op.f('fk_api_keys_circle_id_circles'), type_='foreignkey')
        batch_op.drop_column('circle_id')

    with op.batch_alter_table('collection_items', schema=None) as batch_op:
        batch_op.drop_column('override_reason')
        batch_op.drop_column('override_by')
